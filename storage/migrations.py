"""Ordered schema steps. Append only: never edit a step that has shipped."""

# First statement of a step that rebuilds a table other tables point at (storage/db.py runs it with foreign keys
# off and checks every reference before it commits).
REBUILDS_TABLES = "-- rebuilds tables"

MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "chats, ledger, rentals, sms outbox, offer snapshots, catalogue cache",
        [
            """CREATE TABLE chats (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('private', 'group', 'supergroup', 'channel')),
                title TEXT NOT NULL DEFAULT '',
                language TEXT NOT NULL DEFAULT 'en',
                balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
                members_can_rent INTEGER NOT NULL DEFAULT 0,
                active INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )""",
            """CREATE TABLE ledger (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                amount INTEGER NOT NULL CHECK (amount <> 0),
                balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
                kind TEXT NOT NULL CHECK (kind IN ('topup', 'charge', 'refund', 'adjustment')),
                reference TEXT NOT NULL,
                idempotency_key TEXT UNIQUE,
                actor_id INTEGER,
                note TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )""",
            "CREATE INDEX ledger_chat ON ledger(chat_id, id)",
            """CREATE TABLE offer_snapshots (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                service_key TEXT NOT NULL,
                service_name TEXT NOT NULL,
                offers TEXT NOT NULL,
                created_at REAL NOT NULL
            )""",
            """CREATE TABLE rentals (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                user_name TEXT NOT NULL DEFAULT '',
                provider TEXT NOT NULL,
                provider_rental_id TEXT,
                offer_id TEXT NOT NULL,
                service_name TEXT NOT NULL,
                billing TEXT NOT NULL,
                duration_label TEXT NOT NULL DEFAULT '',
                country TEXT NOT NULL DEFAULT '',
                phone TEXT,
                price_charged INTEGER NOT NULL CHECK (price_charged >= 0),
                provider_cost TEXT NOT NULL,
                status TEXT NOT NULL,
                active_from TEXT,
                active_till TEXT,
                auto_renew INTEGER NOT NULL DEFAULT 0,
                request_key TEXT NOT NULL UNIQUE,
                failure TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                UNIQUE (provider, provider_rental_id)
            )""",
            "CREATE INDEX rentals_chat ON rentals(chat_id, status, id)",
            "CREATE INDEX rentals_status ON rentals(status, provider)",
            """CREATE TABLE sms (
                id INTEGER PRIMARY KEY,
                provider TEXT NOT NULL,
                provider_message_id TEXT NOT NULL,
                rental_id INTEGER NOT NULL REFERENCES rentals(id),
                body TEXT NOT NULL DEFAULT '',
                code TEXT,
                sender TEXT,
                received_at TEXT,
                stored_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                delivered_at TEXT,
                delivery_attempts INTEGER NOT NULL DEFAULT 0,
                UNIQUE (provider, provider_message_id)
            )""",
            "CREATE INDEX sms_rental ON sms(rental_id, id)",
            "CREATE INDEX sms_outbox ON sms(id) WHERE delivered_at IS NULL",
            """CREATE TABLE catalogue_cache (
                key TEXT PRIMARY KEY,
                payload TEXT NOT NULL,
                expires_at REAL NOT NULL
            )""",
        ],
    ),
    (
        "delivery bookkeeping, orphan SMS, job state, renewal warnings",
        [
            "ALTER TABLE sms ADD COLUMN sending_since TEXT",
            "ALTER TABLE sms ADD COLUMN telegram_message_id INTEGER",
            "ALTER TABLE sms ADD COLUMN undeliverable TEXT",
            "DROP INDEX sms_outbox",
            "CREATE INDEX sms_outbox ON sms(id) WHERE delivered_at IS NULL AND undeliverable IS NULL",
            """CREATE TABLE orphan_sms (
                id INTEGER PRIMARY KEY,
                provider TEXT NOT NULL,
                provider_message_id TEXT NOT NULL,
                provider_rental_id TEXT NOT NULL,
                body TEXT NOT NULL DEFAULT '',
                code TEXT,
                sender TEXT,
                received_at TEXT,
                stored_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                UNIQUE (provider, provider_message_id)
            )""",
            "CREATE TABLE job_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "ALTER TABLE rentals ADD COLUMN renew_warned_at TEXT",
            "ALTER TABLE rentals ADD COLUMN closed_notified INTEGER NOT NULL DEFAULT 0",
        ],
    ),
    (
        "plan length on rentals, for the actions a provider allows per plan",
        ["ALTER TABLE rentals ADD COLUMN duration_minutes INTEGER"],
    ),
    (
        "times stored in UTC; price of one period; delivery retries; pending plan switches; Stars refunds;"
        " service popularity",
        [
            # Stored times were ISO text in each provider's zone and compared as text with UTC: rewrite in UTC.
            "UPDATE rentals SET active_from = strftime('%Y-%m-%dT%H:%M:%f+00:00', active_from)"
            " WHERE active_from IS NOT NULL",
            "UPDATE rentals SET active_till = strftime('%Y-%m-%dT%H:%M:%f+00:00', active_till)"
            " WHERE active_till IS NOT NULL",
            "UPDATE rentals SET renew_warned_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', renew_warned_at)"
            " WHERE renew_warned_at IS NOT NULL",
            "UPDATE sms SET received_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', received_at)"
            " WHERE received_at IS NOT NULL",
            "UPDATE sms SET delivered_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', delivered_at)"
            " WHERE delivered_at IS NOT NULL",
            "UPDATE sms SET sending_since = strftime('%Y-%m-%dT%H:%M:%f+00:00', sending_since)"
            " WHERE sending_since IS NOT NULL",
            "UPDATE orphan_sms SET received_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', received_at)"
            " WHERE received_at IS NOT NULL",
            # GetAText code SMS are keyed "{rental}:{code}" with an all-digit code's leading zeros dropped (its
            # webhook sends the code as a JSON integer): rekey those stored before, so none is pushed twice.
            "UPDATE OR IGNORE sms SET provider_message_id = substr(provider_message_id, 1,"
            " instr(provider_message_id, ':')) || COALESCE(NULLIF(ltrim(substr(provider_message_id,"
            " instr(provider_message_id, ':') + 1), '0'), ''), '0')"
            " WHERE provider = 'getatext' AND instr(provider_message_id, ':') > 0"
            " AND substr(provider_message_id, instr(provider_message_id, ':') + 1) NOT GLOB '*[^0-9]*'"
            " AND substr(provider_message_id, instr(provider_message_id, ':') + 1) GLOB '0*'",
            "UPDATE OR IGNORE orphan_sms SET provider_message_id = substr(provider_message_id, 1,"
            " instr(provider_message_id, ':')) || COALESCE(NULLIF(ltrim(substr(provider_message_id,"
            " instr(provider_message_id, ':') + 1), '0'), ''), '0')"
            " WHERE provider = 'getatext' AND instr(provider_message_id, ':') > 0"
            " AND substr(provider_message_id, instr(provider_message_id, ':') + 1) NOT GLOB '*[^0-9]*'"
            " AND substr(provider_message_id, instr(provider_message_id, ':') + 1) GLOB '0*'",
            # What one period of the current plan costs (renewals charge this, not the sum of all charges).
            "ALTER TABLE rentals ADD COLUMN period_price INTEGER CHECK (period_price >= 0)",
            "UPDATE rentals SET period_price = price_charged",
            # A chat the bot may not write to for now (rights, closed topic): the SMS waits until then.
            "ALTER TABLE sms ADD COLUMN retry_at TEXT",
            """CREATE TABLE plan_switches (
                id INTEGER PRIMARY KEY,
                rental_id INTEGER NOT NULL REFERENCES rentals(id),
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                offer_id TEXT NOT NULL,
                duration_label TEXT NOT NULL DEFAULT '',
                duration_minutes INTEGER,
                price INTEGER NOT NULL CHECK (price >= 0),
                provider_cost TEXT NOT NULL,
                request_key TEXT NOT NULL UNIQUE,
                state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'refunded')),
                active_till_before TEXT,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )""",
            "CREATE INDEX plan_switches_pending ON plan_switches(id) WHERE state = 'pending'",
            # Rentals per service, kept up to date on insert: service lists rank by it without a scan of history.
            "CREATE TABLE service_popularity (name TEXT PRIMARY KEY, rentals INTEGER NOT NULL)",
            "INSERT INTO service_popularity (name, rentals) SELECT lower(service_name), COUNT(*) FROM rentals"
            " GROUP BY lower(service_name)",
            """CREATE TABLE stars_refunds (
                charge_id TEXT PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                payer_id INTEGER NOT NULL,
                amount INTEGER NOT NULL CHECK (amount > 0),
                state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'refused')),
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )""",
        ],
    ),
    (
        "no code, no charge: what was decided for an activation that got no SMS",
        [
            # NULL: not decided (the job may still cancel it); 'refunded': cancelled at the provider and refunded;
            # 'refused': the provider would not cancel it (a code came first, or it was no longer active).
            "ALTER TABLE rentals ADD COLUMN no_code TEXT CHECK (no_code IN ('refunded', 'refused'))",
            "CREATE INDEX rentals_activations_open ON rentals(active_till) WHERE status = 'active' AND billing = 'sms'",
        ],
    ),
    (
        "favourite services per chat",
        [
            """CREATE TABLE favourites (
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                service_key TEXT NOT NULL,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (chat_id, service_key)
            )""",
        ],
    ),
    (
        "choosing precisely: the chat's time zone, its last country per service, a typed answer awaited",
        [
            # Telegram tells no user's zone: the chat picks one in Settings; screens show times in it.
            "ALTER TABLE chats ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC'",
            # What a rent asked for beyond the plan. price_held: a price cap held in full until the provider
            # says its price (then settled to it); NULL = the listed price was charged.
            "ALTER TABLE rentals ADD COLUMN area_code TEXT",
            "ALTER TABLE rentals ADD COLUMN carrier TEXT",
            "ALTER TABLE rentals ADD COLUMN price_held INTEGER CHECK (price_held > 0)",
            """CREATE TABLE country_choices (
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                service_key TEXT NOT NULL,
                country TEXT NOT NULL,
                updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (chat_id, service_key)
            )""",
            # One question the bot asked a user in a chat (an area code to type): the next text answers it.
            """CREATE TABLE prompts (
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                payload TEXT NOT NULL,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (chat_id, user_id)
            )""",
        ],
    ),
    (
        "long-term numbers: a renewal asked for and not yet confirmed",
        [
            # JSON {"key", "hold", "till"}: the hold charged under ledger key ``key`` for one more period of a
            # rental renewed in place, and its end before; cleared when settled or refunded.
            "ALTER TABLE rentals ADD COLUMN renew_pending TEXT",
        ],
    ),
    (
        "one number for several services: the set a rental belongs to, combinations a provider refused",
        [
            # The id of the set's first rental, on every rental of the set (that one included); NULL: alone.
            "ALTER TABLE rentals ADD COLUMN set_id INTEGER REFERENCES rentals(id)",
            "CREATE INDEX rentals_set ON rentals(set_id) WHERE set_id IS NOT NULL",
            # A provider refuses a combination it refused once for a while: asked again only after ``until``.
            """CREATE TABLE refused_sets (
                provider TEXT NOT NULL,
                combination TEXT NOT NULL,
                until TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (provider, combination)
            )""",
        ],
    ),
    (
        "crypto top-ups: Crypto Pay invoices, each credited once",
        [
            # One row per invoice Crypto Pay made for a chat. credit: the balance minor units it adds when paid.
            # amount/currency: what the invoice asks (a fiat amount payable in any of `assets`); paid_*: what came.
            # active -> credited (paid and credited, once, with its ledger row crypto:<invoice_id>)
            #        | expired (closed: Crypto Pay expired or deleted it; never credited after)
            #        | paid (paid, but not as the invoice was recorded: left to the operator, not credited)
            """CREATE TABLE crypto_invoices (
                invoice_id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                credit INTEGER NOT NULL CHECK (credit > 0),
                amount TEXT NOT NULL,
                currency TEXT NOT NULL,
                assets TEXT NOT NULL,
                pay_url TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('active', 'paid', 'expired', 'credited')),
                paid_asset TEXT NOT NULL DEFAULT '',
                paid_amount TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX crypto_invoices_active ON crypto_invoices(chat_id, credit) WHERE status = 'active'",
        ],
    ),
    (
        "business: ledger kinds of their own (transfers, referral rewards, promo codes); bans; invitations and promo"
        " codes",
        [
            # SQLite cannot change a CHECK: the ledger is rebuilt with the kinds 'transfer', 'referral' (an inviter's
            # share of a friend's payment) and 'promo' (a promo code redeemed), rows and ids kept.
            """CREATE TABLE ledger_new (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                amount INTEGER NOT NULL CHECK (amount <> 0),
                balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
                kind TEXT NOT NULL CHECK (kind IN ('topup', 'charge', 'refund', 'adjustment', 'transfer',
                                                   'referral', 'promo')),
                reference TEXT NOT NULL,
                idempotency_key TEXT UNIQUE,
                actor_id INTEGER,
                note TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )""",
            "INSERT INTO ledger_new (id, chat_id, amount, balance_after, kind, reference, idempotency_key, actor_id,"
            " note, created_at) SELECT id, chat_id, amount, balance_after, kind, reference, idempotency_key, actor_id,"
            " note, created_at FROM ledger",
            "DROP TABLE ledger",
            "ALTER TABLE ledger_new RENAME TO ledger",
            "CREATE INDEX ledger_chat ON ledger(chat_id, id)",
            # One row per user at their first /start in private: who invited them (NULL: nobody), never changed.
            # Users already known came before invitations: they have no inviter and get none later.
            """CREATE TABLE invites (
                user_id INTEGER PRIMARY KEY,
                inviter_id INTEGER,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                CHECK (inviter_id IS NULL OR inviter_id <> user_id)
            )""",
            "CREATE INDEX invites_inviter ON invites(inviter_id) WHERE inviter_id IS NOT NULL",
            "INSERT OR IGNORE INTO invites (user_id) SELECT id FROM chats WHERE kind = 'private'",
            # The operator's codes: amount (minor units) per redemption, at most max_uses redemptions in all.
            """CREATE TABLE promo_codes (
                code TEXT PRIMARY KEY,
                amount INTEGER NOT NULL CHECK (amount > 0),
                max_uses INTEGER NOT NULL CHECK (max_uses > 0),
                uses INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
                expires_at TEXT,
                disabled INTEGER NOT NULL DEFAULT 0,
                created_by INTEGER NOT NULL,
                created_at TEXT NOT NULL
            )""",
            # A code once per chat, and once per user (in whichever chat they redeemed it).
            """CREATE TABLE promo_redemptions (
                code TEXT NOT NULL REFERENCES promo_codes(code),
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (code, chat_id),
                UNIQUE (code, user_id)
            )""",
            # A banned user (id > 0: everywhere, their private chat too) or group (id < 0): no renting, no top-ups;
            # balances and ledger untouched. told: the reason was said to them once.
            """CREATE TABLE bans (
                target INTEGER PRIMARY KEY,
                reason TEXT NOT NULL DEFAULT '',
                banned_by INTEGER NOT NULL,
                told INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )""",
        ],
    ),
    (
        "broadcasts: the operator's messages to many chats, and each chat's delivery of them",
        [
            # status: draft (previewed, audience not chosen) -> sending (confirmed: broadcast_chats holds its
            # audience) -> done | cancelled. text: HTML as it is sent (a photo's caption when photo is set);
            # photo: a Telegram file id; button_*: one URL button under it, or empty.
            """CREATE TABLE broadcasts (
                id INTEGER PRIMARY KEY,
                created_by INTEGER NOT NULL,
                chat_id INTEGER NOT NULL,
                language TEXT NOT NULL DEFAULT 'en',
                text TEXT NOT NULL,
                photo TEXT NOT NULL DEFAULT '',
                button_text TEXT NOT NULL DEFAULT '',
                button_url TEXT NOT NULL DEFAULT '',
                audience TEXT NOT NULL DEFAULT '' CHECK (audience IN ('', 'all', 'private', 'groups')),
                status TEXT NOT NULL CHECK (status IN ('draft', 'sending', 'done', 'cancelled')),
                progress_message_id INTEGER,
                created_at TEXT NOT NULL,
                started_at TEXT,
                finished_at TEXT
            )""",
            "CREATE INDEX broadcasts_sending ON broadcasts(id) WHERE status = 'sending'",
            # One row per chat of a confirmed broadcast's audience. pending -> sending (written before the HTTP
            # call) -> sent | failed | blocked; a row found 'sending' at the next start was in flight when the
            # process stopped: it becomes failed ("interrupted") and is never sent again.
            """CREATE TABLE broadcast_chats (
                id INTEGER PRIMARY KEY,
                broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                status TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'blocked')),
                attempts INTEGER NOT NULL DEFAULT 0,
                message_id INTEGER,
                error TEXT NOT NULL DEFAULT '',
                updated_at TEXT,
                UNIQUE (broadcast_id, chat_id)
            )""",
            "CREATE INDEX broadcast_chats_status ON broadcast_chats(broadcast_id, status, id)",
        ],
    ),
    (
        "delivery record: per plan per day outcomes (rentals, with a code, time-to-first-code histogram), which"
        " rentals were counted, plans hidden by the operator",
        [
            """CREATE TABLE plan_outcomes (
                provider TEXT NOT NULL,
                service TEXT NOT NULL,
                country TEXT NOT NULL,
                day INTEGER NOT NULL,
                rentals INTEGER NOT NULL DEFAULT 0,
                delivered INTEGER NOT NULL DEFAULT 0,
                hist TEXT NOT NULL,
                PRIMARY KEY (service, country, provider, day)
            )""",
            "CREATE INDEX plan_outcomes_provider ON plan_outcomes(provider, day)",
            """CREATE TABLE outcome_marks (
                rental_id INTEGER PRIMARY KEY,
                delivered INTEGER NOT NULL
            )""",
            """CREATE TABLE hidden_plans (
                provider TEXT NOT NULL,
                service TEXT NOT NULL,
                country TEXT NOT NULL,
                hidden_by INTEGER NOT NULL,
                hidden_at TEXT NOT NULL,
                PRIMARY KEY (provider, service, country)
            )""",
        ],
    ),
    (
        "team groups: who may rent and how much, members topping up, requests admins approve",
        [
            # members_can_rent stays the switch "members rent"; member_limit (minor units, 0: none) per
            # limit_period ('day' or 'week', in the group's time zone) and member_cap (open numbers, 0: none)
            # bound each member who is not an admin. members_top_up: whether members may top the group up.
            "ALTER TABLE chats ADD COLUMN member_limit INTEGER NOT NULL DEFAULT 0 CHECK (member_limit >= 0)",
            "ALTER TABLE chats ADD COLUMN limit_period TEXT NOT NULL DEFAULT 'day'"
            " CHECK (limit_period IN ('day', 'week'))",
            "ALTER TABLE chats ADD COLUMN member_cap INTEGER NOT NULL DEFAULT 0 CHECK (member_cap >= 0)",
            "ALTER TABLE chats ADD COLUMN members_top_up INTEGER NOT NULL DEFAULT 1",
            # A member's request for a number, decided by one admin: the offer and price as shown (the snapshot
            # it came from expires), the request key (a double tap posts one), who decided, the rental made.
            """CREATE TABLE spend_requests (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                user_name TEXT NOT NULL DEFAULT '',
                request_key TEXT NOT NULL UNIQUE,
                offer TEXT NOT NULL,
                wishes TEXT NOT NULL DEFAULT '{}',
                price INTEGER NOT NULL CHECK (price >= 0),
                status TEXT NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'renting', 'approved', 'declined', 'expired', 'failed')),
                message_id INTEGER,
                decided_by INTEGER,
                decided_name TEXT NOT NULL DEFAULT '',
                rental_id INTEGER REFERENCES rentals(id),
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL
            )""",
            "CREATE INDEX spend_requests_open ON spend_requests(status, expires_at)"
            " WHERE status IN ('open', 'renting')",
            "CREATE INDEX spend_requests_rental ON spend_requests(rental_id) WHERE rental_id IS NOT NULL",
        ],
    ),
    (
        "codes that hide themselves in groups: under a spoiler, deleted from the chat after N minutes",
        [
            # code_spoiler: pushed codes (and the card's) under a spoiler; code_delete_minutes (0: never): a
            # delivered code message is deleted from the group this long after it was delivered.
            "ALTER TABLE chats ADD COLUMN code_spoiler INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE chats ADD COLUMN code_delete_minutes INTEGER NOT NULL DEFAULT 0"
            " CHECK (code_delete_minutes >= 0)",
            # hidden_at: the deletion was settled (deleted, or refused by Telegram: never asked again);
            # hide_result says which; hide_attempts bounds the retries of calls that got no answer.
            "ALTER TABLE sms ADD COLUMN hidden_at TEXT",
            "ALTER TABLE sms ADD COLUMN hide_result TEXT",
            "ALTER TABLE sms ADD COLUMN hide_attempts INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX sms_to_hide ON sms(delivered_at) WHERE telegram_message_id IS NOT NULL AND hidden_at IS NULL",
        ],
    ),
    (
        "alerts: tell a chat once when a sold-out plan is back or a service is under a price",
        [
            # kind 'stock': the plan (provider, offer_id) listed again with numbers; kind 'price': the service in
            # that country (country_key, '' for any) at or under ``below`` (minor units, the chat's price).
            # Fired once: status 'open' -> 'fired' in one UPDATE, with the offer found (JSON) and its price.
            """CREATE TABLE price_alerts (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                service_key TEXT NOT NULL,
                service_name TEXT NOT NULL,
                country TEXT NOT NULL DEFAULT '',
                kind TEXT NOT NULL CHECK (kind IN ('stock', 'price')),
                provider TEXT NOT NULL DEFAULT '',
                offer_id TEXT NOT NULL DEFAULT '',
                plan TEXT NOT NULL DEFAULT '',
                below INTEGER NOT NULL DEFAULT 0 CHECK (below >= 0),
                status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fired', 'expired', 'cancelled')),
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                fired_at TEXT,
                offer TEXT,
                price INTEGER
            )""",
            "CREATE INDEX price_alerts_open ON price_alerts(status, service_key) WHERE status = 'open'",
            "CREATE INDEX price_alerts_chat ON price_alerts(chat_id, status)",
        ],
    ),
    (
        "the fallback chain: try the next plan when no code comes, within a budget (issue 17)",
        [
            # A chat's last choice on the confirm screen (remembered for its next one). budget_percent of the
            # first price; window_minutes 0: each activation's own wait.
            """CREATE TABLE fallback_prefs (
                chat_id INTEGER PRIMARY KEY REFERENCES chats(id) ON UPDATE CASCADE,
                enabled INTEGER NOT NULL DEFAULT 0,
                budget_percent INTEGER NOT NULL DEFAULT 200 CHECK (budget_percent >= 100),
                window_minutes INTEGER NOT NULL DEFAULT 0 CHECK (window_minutes >= 0),
                other_countries INTEGER NOT NULL DEFAULT 0
            )""",
            # One chain per Rent tap (request_key: the tap's rent key, so a double tap starts one). first_offer:
            # the plan tapped (JSON, as quoted); tried: plans refused before renting (JSON [[provider, id]]).
            """CREATE TABLE fallback_chains (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                user_name TEXT NOT NULL DEFAULT '',
                service_key TEXT NOT NULL,
                service_name TEXT NOT NULL,
                first_offer TEXT NOT NULL,
                country TEXT NOT NULL DEFAULT '',
                other_countries INTEGER NOT NULL DEFAULT 0,
                window_minutes INTEGER NOT NULL DEFAULT 0,
                budget INTEGER NOT NULL CHECK (budget >= 0),
                status TEXT NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'stopping', 'stopped', 'done', 'exhausted', 'ended')),
                reason TEXT NOT NULL DEFAULT '',
                tried TEXT NOT NULL DEFAULT '[]',
                card_chat_id INTEGER,
                card_message_id INTEGER,
                request_key TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX fallback_chains_open ON fallback_chains(status) WHERE status IN ('running', 'stopping')",
            # Each attempt's rental, written in the transaction that charges it (so a kill cannot lose the link).
            """CREATE TABLE chain_attempts (
                chain_id INTEGER NOT NULL REFERENCES fallback_chains(id),
                attempt INTEGER NOT NULL,
                rental_id INTEGER NOT NULL UNIQUE REFERENCES rentals(id),
                PRIMARY KEY (chain_id, attempt)
            )""",
            # A chain's spend is read from the ledger by its rentals' references.
            "CREATE INDEX ledger_chat_reference ON ledger(chat_id, reference)",
        ],
    ),
    (
        "a topic per number in forum groups: the setting, and each rental's topic and its state",
        [
            # topic_per_number: a forum group's rentals each get a topic ("WhatsApp · +1 555 ..."), card and codes.
            "ALTER TABLE chats ADD COLUMN topic_per_number INTEGER NOT NULL DEFAULT 0",
            # topic_id: the topic's message_thread_id (on a set's first rental: the card's). topic_state:
            # 'open' codes go there; 'lost' a person deleted or closed it, the next code goes to the main chat
            # with a note; 'moved' the note was given, codes go to the main chat; 'closed' the bot closed it at
            # the rental's end (or found it gone then).
            "ALTER TABLE rentals ADD COLUMN topic_id INTEGER",
            "ALTER TABLE rentals ADD COLUMN topic_state TEXT"
            " CHECK (topic_state IN ('open', 'lost', 'moved', 'closed'))",
            "CREATE INDEX rentals_topic_to_close ON rentals(status) WHERE topic_state IN ('open', 'lost', 'moved')",
        ],
    ),
    (
        "forwarding codes per number: a rental's forward target, each chat's signing secret, the forward outbox",
        [
            # One target per rental: kind 'chat' (target: the chat id) or 'url' (target: the https URL), set by
            # set_by. failing_since: the first failure of the current unbroken run (cleared by a success);
            # disabled_at: switched off after failing for 24 h (the chat told once).
            """CREATE TABLE rental_forwards (
                rental_id INTEGER PRIMARY KEY REFERENCES rentals(id),
                kind TEXT NOT NULL CHECK (kind IN ('chat', 'url')),
                target TEXT NOT NULL,
                set_by INTEGER NOT NULL,
                set_at TEXT NOT NULL,
                failing_since TEXT,
                disabled_at TEXT
            )""",
            # The chat's secret signing its URL forwards (HMAC-SHA256 of the body, X-Signature); rotated by admins.
            "ALTER TABLE chats ADD COLUMN forward_secret TEXT",
            # Each SMS to each target once: inserted in the transaction that stores the SMS (only for targets set
            # by then). kind 'notice': the chat told its target was switched off (target 'notice:<rental id>').
            """CREATE TABLE forward_outbox (
                id INTEGER PRIMARY KEY,
                sms_id INTEGER NOT NULL REFERENCES sms(id),
                rental_id INTEGER NOT NULL REFERENCES rentals(id),
                kind TEXT NOT NULL CHECK (kind IN ('chat', 'url', 'notice')),
                target TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_try_at TEXT NOT NULL,
                last_error TEXT,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                UNIQUE (sms_id, target)
            )""",
            "CREATE INDEX forward_outbox_due ON forward_outbox(next_try_at) WHERE status = 'pending'",
        ],
    ),
    (
        "money news: the outbox of messages that report money moved (payments, refunds, renewals, transfers)",
        [
            # Written in the transaction that writes its ledger row, once per row (ledger_key: the row's idempotency
            # key, or the key of what moved the money when no row was needed); what to say is a text key and its
            # parameters (JSON), rendered at sending in the chat's language then. pending -> sending (written
            # before the send: a kill repeats only the one in flight) -> sent (message_id) | undeliverable (the
            # chat is gone, or refused the bot for a day). next_try_at: a chat that refused it for now waits.
            """CREATE TABLE money_notices (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                ledger_key TEXT NOT NULL UNIQUE,
                ledger_id INTEGER REFERENCES ledger(id),
                text_key TEXT NOT NULL,
                params TEXT NOT NULL DEFAULT '{}',
                status TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'undeliverable')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_try_at TEXT NOT NULL,
                last_error TEXT,
                message_id INTEGER,
                created_at TEXT NOT NULL,
                sent_at TEXT
            )""",
            "CREATE INDEX money_notices_open ON money_notices(chat_id, id) WHERE status IN ('pending', 'sending')",
        ],
    ),
    (
        "the fallback chain: why the plans left over were not tried; switched on per service (issue 29)",
        [
            # JSON {reason: count}, written when the chain runs out of plans: bot/services/fallback_chain.py UNTRIED.
            "ALTER TABLE fallback_chains ADD COLUMN untried TEXT NOT NULL DEFAULT '{}'",
            # The services a chat keeps "if no code, try the next plan" on for (its budget, wait and countries
            # stay the chat's last choice in fallback_prefs). On before for the whole chat: kept on for the
            # services it was used for.
            """CREATE TABLE fallback_services (
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                service_key TEXT NOT NULL,
                PRIMARY KEY (chat_id, service_key)
            )""",
            "INSERT INTO fallback_services (chat_id, service_key) SELECT DISTINCT c.chat_id, c.service_key"
            " FROM fallback_chains c JOIN fallback_prefs p ON p.chat_id = c.chat_id WHERE p.enabled = 1",
            "ALTER TABLE fallback_prefs DROP COLUMN enabled",
        ],
    ),
    (
        "a code forwarded into a group that deletes its codes is deleted there too (issue 29)",
        [
            # The message Telegram accepted in the target chat, and when (and how) the deletion was settled.
            "ALTER TABLE forward_outbox ADD COLUMN telegram_message_id INTEGER",
            "ALTER TABLE forward_outbox ADD COLUMN hidden_at TEXT",
            "ALTER TABLE forward_outbox ADD COLUMN hide_result TEXT",
        ],
    ),
    (
        "each Telegram update handled once: the ids taken in the last 24 hours (storage/updates.py)",
        [
            """CREATE TABLE handled_updates (
                update_id INTEGER PRIMARY KEY,
                taken_at TEXT NOT NULL
            )""",
            "CREATE INDEX handled_updates_taken ON handled_updates(taken_at)",
        ],
    ),
    (
        "explicit states (issue 30): a rental's status is one of its named states; an in-place renewal is a row"
        " of in_place_renewals, not JSON; an SMS's delivery is one state (pending, sending, held, delivered,"
        " undeliverable)",
        [
            REBUILDS_TABLES,
            # One renewal in place of a long-term number: asked (its hold charged, the provider's answer not known
            # yet), then made or refunded. storage/in_place_renewals.py moves it.
            """CREATE TABLE in_place_renewals (
                id INTEGER PRIMARY KEY,
                rental_id INTEGER NOT NULL REFERENCES rentals(id),
                request_key TEXT NOT NULL UNIQUE,
                hold INTEGER NOT NULL CHECK (hold >= 0),
                till_before TEXT,
                state TEXT NOT NULL DEFAULT 'asked' CHECK (state IN ('asked', 'made', 'refunded')),
                paid INTEGER CHECK (paid >= 0),
                asked_at TEXT NOT NULL,
                decided_at TEXT,
                CHECK ((state = 'asked') = (decided_at IS NULL)),
                CHECK ((state = 'made') = (paid IS NOT NULL))
            )""",
            "CREATE UNIQUE INDEX in_place_renewals_one_asked ON in_place_renewals(rental_id) WHERE state = 'asked'",
            "INSERT INTO in_place_renewals (rental_id, request_key, hold, till_before, asked_at)"
            " SELECT id, json_extract(renew_pending, '$.key'), json_extract(renew_pending, '$.hold'),"
            " json_extract(renew_pending, '$.till'), coalesce(json_extract(renew_pending, '$.at'), updated_at)"
            " FROM rentals WHERE renew_pending IS NOT NULL",
            # The rental, its columns grouped by what they say; the renewal asked now points at its row.
            """CREATE TABLE rentals_new (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
                user_id INTEGER NOT NULL,
                user_name TEXT NOT NULL DEFAULT '',
                request_key TEXT NOT NULL UNIQUE,
                provider TEXT NOT NULL,
                provider_rental_id TEXT,
                offer_id TEXT NOT NULL,
                service_name TEXT NOT NULL,
                billing TEXT NOT NULL,
                duration_label TEXT NOT NULL DEFAULT '',
                duration_minutes INTEGER,
                country TEXT NOT NULL DEFAULT '',
                area_code TEXT,
                carrier TEXT,
                phone TEXT,
                status TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'active', 'cancelled', 'finished', 'expired', 'failed')),
                failure TEXT NOT NULL DEFAULT '',
                price_charged INTEGER NOT NULL CHECK (price_charged >= 0),
                period_price INTEGER CHECK (period_price >= 0),
                price_held INTEGER CHECK (price_held > 0),
                provider_cost TEXT NOT NULL,
                active_from TEXT,
                active_till TEXT,
                auto_renew INTEGER NOT NULL DEFAULT 0 CHECK (auto_renew IN (0, 1)),
                renewal_id INTEGER REFERENCES in_place_renewals(id),
                renew_warned_at TEXT,
                no_code TEXT CHECK (no_code IN ('refunded', 'refused')),
                closed_notified INTEGER NOT NULL DEFAULT 0 CHECK (closed_notified IN (0, 1)),
                set_id INTEGER REFERENCES rentals(id),
                topic_id INTEGER,
                topic_state TEXT CHECK (topic_state IN ('open', 'lost', 'moved', 'closed')),
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                UNIQUE (provider, provider_rental_id)
            )""",
            "INSERT INTO rentals_new (id, chat_id, user_id, user_name, request_key, provider, provider_rental_id,"
            " offer_id, service_name, billing, duration_label, duration_minutes, country, area_code, carrier, phone,"
            " status, failure, price_charged, period_price, price_held, provider_cost, active_from, active_till,"
            " auto_renew, renewal_id, renew_warned_at, no_code, closed_notified, set_id, topic_id, topic_state,"
            " created_at, updated_at)"
            " SELECT id, chat_id, user_id, user_name, request_key, provider, provider_rental_id, offer_id,"
            " service_name, billing, duration_label, duration_minutes, country, area_code, carrier, phone, status,"
            " failure, price_charged, period_price, price_held, provider_cost, active_from, active_till,"
            " CASE WHEN auto_renew THEN 1 ELSE 0 END,"
            " (SELECT n.id FROM in_place_renewals n WHERE n.rental_id = rentals.id AND n.state = 'asked'),"
            " renew_warned_at, no_code, CASE WHEN closed_notified THEN 1 ELSE 0 END, set_id, topic_id, topic_state,"
            " created_at, updated_at FROM rentals",
            "DROP TABLE rentals",
            "ALTER TABLE rentals_new RENAME TO rentals",
            "CREATE INDEX rentals_chat ON rentals(chat_id, status, id)",
            "CREATE INDEX rentals_status ON rentals(status, provider)",
            "CREATE INDEX rentals_activations_open ON rentals(active_till) WHERE status = 'active' AND billing = 'sms'",
            "CREATE INDEX rentals_set ON rentals(set_id) WHERE set_id IS NOT NULL",
            "CREATE INDEX rentals_topic_to_close ON rentals(status) WHERE topic_state IN ('open', 'lost', 'moved')",
            # An SMS's delivery: pending -> sending (written before the send) -> delivered | undeliverable, or held
            # (the chat refused it for now) until next_try_at. Its facts (when delivered, why undeliverable, when
            # to try again) exist exactly in the state they belong to.
            """CREATE TABLE sms_new (
                id INTEGER PRIMARY KEY,
                provider TEXT NOT NULL,
                provider_message_id TEXT NOT NULL,
                rental_id INTEGER NOT NULL REFERENCES rentals(id),
                body TEXT NOT NULL DEFAULT '',
                code TEXT,
                sender TEXT,
                received_at TEXT,
                stored_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                delivery TEXT NOT NULL DEFAULT 'pending'
                    CHECK (delivery IN ('pending', 'sending', 'held', 'delivered', 'undeliverable')),
                delivery_attempts INTEGER NOT NULL DEFAULT 0 CHECK (delivery_attempts >= 0),
                next_try_at TEXT,
                delivered_at TEXT,
                telegram_message_id INTEGER,
                undeliverable_reason TEXT,
                hidden_at TEXT,
                hide_result TEXT,
                hide_attempts INTEGER NOT NULL DEFAULT 0,
                UNIQUE (provider, provider_message_id),
                CHECK ((delivery = 'held') = (next_try_at IS NOT NULL)),
                CHECK ((delivery = 'delivered') = (delivered_at IS NOT NULL)),
                CHECK ((delivery = 'undeliverable') = (undeliverable_reason IS NOT NULL))
            )""",
            "INSERT INTO sms_new (id, provider, provider_message_id, rental_id, body, code, sender, received_at,"
            " stored_at, delivery, delivery_attempts, next_try_at, delivered_at, telegram_message_id,"
            " undeliverable_reason, hidden_at, hide_result, hide_attempts)"
            " SELECT id, provider, provider_message_id, rental_id, body, code, sender, received_at, stored_at,"
            " state, delivery_attempts, CASE WHEN state = 'held' THEN retry_at END,"
            " CASE WHEN state = 'delivered' THEN delivered_at END, telegram_message_id,"
            " CASE WHEN state = 'undeliverable' THEN undeliverable END, hidden_at, hide_result, hide_attempts"
            " FROM (SELECT *, CASE WHEN delivered_at IS NOT NULL THEN 'delivered'"
            " WHEN undeliverable IS NOT NULL THEN 'undeliverable' WHEN retry_at IS NOT NULL THEN 'held'"
            " WHEN sending_since IS NOT NULL THEN 'sending' ELSE 'pending' END AS state FROM sms)",
            "DROP TABLE sms",
            "ALTER TABLE sms_new RENAME TO sms",
            "CREATE INDEX sms_rental ON sms(rental_id, id)",
            "CREATE INDEX sms_outbox ON sms(id) WHERE delivery IN ('pending', 'sending', 'held')",
            "CREATE INDEX sms_to_hide ON sms(delivered_at) WHERE telegram_message_id IS NOT NULL AND hidden_at IS NULL",
        ],
    ),
]
