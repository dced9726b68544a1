"""A chat's whole money history (issue 29 #19) through the production dispatcher: /ledger in a private chat and
the balance screen's 📜 Whole history page through every row; ⬇️ the file has every row, in the chat's words and
time zone, its amounts adding up to the balance; in a group only its admins read it (Telegram asked at the tap)."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from aiogram.methods import SendDocument

from bot.app import App
from handlers.callbacks import HistoryCb
from tests.conftest import credit

GROUP = -100777


async def filled(app: App, chat_id: int, rows: int) -> None:
    for i in range(rows):
        await credit(app, chat_id, 100 + i)


def file_rows(session) -> tuple[SendDocument, list[list[str]]]:
    sent = session.calls_of(SendDocument)[-1]
    text = sent.document.data.decode("utf-8-sig")
    return sent, list(csv.reader(io.StringIO(text)))


async def test_a_person_pages_through_their_whole_history_and_downloads_it(app, alice, session):
    await alice.send("/start")
    await filled(app, alice.chat_id, 23)
    await alice.send("/ledger")  # no longer "Not allowed": a person's own history
    text = alice.screen().text
    assert "Money history" in text and "Page 1 of 3 · 23 entries" in text, text
    assert text.count("+$1.") == 10 and "+$1.22" in text  # the newest first
    await alice.press("Next ›")
    await alice.press("Next ›")
    last = alice.screen().text
    assert "Page 3 of 3" in last and last.count("+$1.") == 3 and "+$1.00" in last
    assert "Next ›" not in alice.buttons() and "‹ Prev" in alice.buttons()

    await alice.press("Download as a file")
    sent, rows = file_rows(session)
    assert sent.chat_id == alice.chat_id and sent.document.filename == "history.csv"
    assert "23 entries, oldest first" in sent.caption
    header, *body = rows
    assert header == ["Time", "What", "Number", "Amount", "Balance after"]
    assert len(body) == 23 and body[0][3] == "1.00" and body[-1][3] == "1.22"
    balance = (await app.chats.get(alice.chat_id)).balance
    assert sum(Decimal(r[3]) for r in body) == Decimal(balance) / 100 == Decimal(body[-1][4])
    assert body[0][0].endswith("+00:00")  # the chat's zone (UTC here), said in the time itself

    # The balance screen opens the same history.
    await alice.send("/balance")
    await alice.press("Whole history")
    assert "Page 1 of 3" in alice.screen().text


async def test_the_file_is_in_the_chats_language_and_time_zone_and_names_the_number(app, alice, session):
    await alice.send("/start")
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE chats SET language = 'ru', time_zone = 'Europe/Moscow' WHERE id = ?",
                           (alice.chat_id,))
    await credit(app, alice.chat_id, 500)
    for label in ("/rent telegram",):
        await alice.send(label)
    await alice.press("Telegram")
    await alice.press("$1.10")
    await alice.press("Арендовать за $1.10")
    await alice.send("/ledger")
    await alice.press("Скачать файлом")
    _, rows = file_rows(session)
    assert rows[0] == ["Время", "Что", "Номер", "Сумма", "Баланс после"]
    rent = rows[-1]
    assert rent[0].endswith("+03:00") and rent[2].startswith("+1") and rent[3] == "-1.10"
    assert rent[2] not in rent[1]  # the number has its own column


async def test_a_forged_page_past_the_end_shows_the_last_and_a_file_waits_between_taps(app, alice, session, settings):
    await alice.send("/start")
    await filled(app, alice.chat_id, 3)
    answer = await alice.press_data(HistoryCb(page=9999).pack())
    assert answer is not None and "Money history" in alice.screen().text and "Page" not in alice.screen().text
    app.rentals.cooldowns.seconds["csv"] = 30.0
    await alice.press_data(HistoryCb(page=0, csv=True).pack())
    again = await alice.press_data(HistoryCb(page=0, csv=True).pack())
    assert len(session.calls_of(SendDocument)) == 1 and "Try again in" in again.text, again.text


async def test_in_a_group_only_admins_read_the_whole_history(app, session, memory_world):
    ann = memory_world.person(2001, chat_id=GROUP, name="Ann")
    bob = memory_world.person(2002, chat_id=GROUP, name="Bob")
    session.admins.add((GROUP, ann.user.id))
    await ann.send("/start")
    await filled(app, GROUP, 12)
    answer = await bob.press_data(HistoryCb(page=0).pack())
    assert "Only the group's admins can read its whole history" in answer.text
    answer = await bob.press_data(HistoryCb(page=0, csv=True).pack())
    assert "Only the group's admins" in answer.text and not session.calls_of(SendDocument)
    await bob.send("/ledger")  # a member still reads the recent rows, as before
    assert "Money history" not in bob.screen().text
    await ann.send("/ledger")
    assert "Page 1 of 2 · 12 entries" in ann.screen().text
    await ann.press("Download as a file")
    sent, rows = file_rows(session)
    assert sent.chat_id == GROUP and sent.document.filename == f"history-{GROUP}.csv" and len(rows) == 13
