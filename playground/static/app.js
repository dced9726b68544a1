// The playground page: a Telegram-like chat over the playground's JSON API. Plain JS, no build step.
// Message HTML comes pre-rendered and escaped by the server (render_entities); everything else is set as text.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const els = {
    messages: $("messages"), intro: $("empty-intro"), title: $("chat-title"), subtitle: $("chat-subtitle"),
    avatar: $("chat-avatar"), input: $("input"), composer: $("composer"), start: $("start-button"),
    asRow: $("as-row"), asOptions: $("as-options"), sms: $("sms-button"), codes: $("codes-button"), toast: $("toast"),
    alert: $("alert"), alertTitle: $("alert-title"), alertText: $("alert-text"), alertOk: $("alert-ok"),
    sheet: $("sheet"), sheetTitle: $("sheet-title"), sheetOptions: $("sheet-options"), sheetEmpty: $("sheet-empty"),
    sheetCancel: $("sheet-cancel"), replyKb: $("reply-kb"), sandbox: $("sandbox"),
    tabs: { private: $("tab-private"), group: $("tab-group"), forum: $("tab-forum"), operator: $("tab-operator") },
  };

  const app = {
    state: null,        // /api/state
    chat: null,         // the selected chat (from state.chats)
    asUser: null,       // who types in the group
    version: {},        // chat id -> last seen snapshot version
    seen: {},           // chat id -> last message id seen while that chat was open
    nodes: new Map(),   // message id -> {row, sig} for the open chat
    poll: null,         // AbortController of the running long poll
    lang: "en",         // the open chat's language: the page's own words follow it
    replyKb: "",        // the open chat's reply keyboard as last shown (JSON), "" when none
    kbPlaceholder: "",  // that keyboard's input_field_placeholder
  };

  // ------------------------------------------------------------------ the page's own words
  // They follow the open chat's language (the bot's language for that chat, sent with each snapshot).
  // Each word as [English, Russian].
  const WORDS = {
    edited: ["edited", "изменено"],
    pay: ["Pay {amount}", "Оплатить {amount}"],
    paid: ["Payment sent: {amount}", "Оплата отправлена: {amount}"],
    paidPlain: ["Payment sent", "Оплата отправлена"],
    declined: ["Payment declined", "Оплата отклонена"],
    unconfirmed: ["The bot did not confirm the payment in time", "Бот не подтвердил оплату вовремя"],
    message: ["Message", "Сообщение"],
    messageAs: ["Message as {name}", "Сообщение от имени {name}"],
    typingAs: ["Typing as", "Пишет"],
    copied: ["Copied {text}", "Скопировано: {text}"],
    smsButton: ["📩 Make an SMS arrive", "📩 Прислать СМС"],
    smsSent: ["📩 SMS sent to {phone} — the bot pushes it in a moment",
              "📩 СМС отправлено на {phone} — бот перешлёт его через миг"],
    codesStop: ["📵 Codes stop coming", "📵 Коды перестают приходить"],
    codesCome: ["📲 Codes come again", "📲 Коды снова приходят"],
    codesOn: ["Codes come again as usual", "Коды снова приходят как обычно"],
    codesOff: ["From now on new numbers get no code: the bot refunds them",
               "Теперь новым номерам код не придёт: бот вернёт за них деньги"],
    smsWhich: ["Which number gets the SMS?", "На какой номер прислать СМС?"],
    tabPrivate: ["Private chat", "Личный чат"],
    tabOperator: ["Operator", "Оператор"],
    sandbox: ["sandbox", "песочница"],
    sandboxHint: ["Fake Telegram, fake providers, fake money", "Ненастоящие Telegram, провайдеры и деньги"],
    subBot: ["bot", "бот"],
    subOperator: ["bot · as the operator", "бот · от имени оператора"],
    members: ["{n} members", "{n} {участник|участника|участников}"],
    topics: ["topics", "темы"],
    you: ["You", "Вы"],
    messageAsYou: ["Message as You", "Сообщение от вас"],
    roleAdmin: ["admin", "админ"],
    roleMember: ["member", "участник"],
    roleYou: ["you", "вы"],
    roleOperator: ["operator", "оператор"],
    kb: ["{n} KB", "{n} КБ"],
    ok: ["OK", "ОК"],
    pickChat: ["Choose a chat", "Выберите чат"],
    noChat: ["No chat fits what this button asks for", "Нет чата, подходящего под условия этой кнопки"],
    cancel: ["Cancel", "Отмена"],
  };
  const LANGUAGES = ["en", "ru"];
  function word(key, vars = {}) {
    const text = WORDS[key][Math.max(0, LANGUAGES.indexOf(app.lang))];
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""))
      .replace(/\{([^{}|]*)\|([^{}|]*)\|([^{}|]*)\}/g, (_, one, few, many) => russianPlural(vars.n, one, few, many));
  }
  // Russian forms by number: 1, 21 участник; 2-4, 22 участника; 5-20, 11-14 участников.
  function russianPlural(n, one, few, many) {
    const d = Math.abs(Number(n)) % 100, u = d % 10;
    if (d >= 11 && d <= 14) return many;
    return u === 1 ? one : u >= 2 && u <= 4 ? few : many;
  }
  function roleWord(role) {
    const key = { admin: "roleAdmin", member: "roleMember", you: "roleYou", operator: "roleOperator" }[role];
    return key ? word(key) : role;
  }
  // The page's person is "You" on the page, as Telegram says it; others by their names.
  function nameOf(user) { return app.state && user.id === app.state.me.id ? word("you") : user.name; }
  function subtitle(chat) {
    if (chat.kind === "private") return word("subBot");
    if (chat.kind === "operator") return word("subOperator");
    const members = word("members", { n: chat.users.length + 1 });  // and the bot
    return chat.kind === "forum" ? `${members} · ${word("topics")}` : members;
  }
  function applyChromeWords() {
    document.documentElement.lang = app.lang;
    els.sms.textContent = word("smsButton");
    els.sheetCancel.textContent = word("cancel");
    els.codes.textContent = word(els.codes.getAttribute("aria-pressed") === "true" ? "codesStop" : "codesCome");
    document.querySelector("#as-row .as-label").textContent = word("typingAs");
    for (const label of document.querySelectorAll("[data-word]")) label.textContent = word(label.dataset.word);
    els.sandbox.textContent = word("sandbox");
    els.sandbox.title = word("sandboxHint");
    els.alertOk.textContent = word("ok");
    if (app.chat) els.subtitle.textContent = subtitle(app.chat);
    if (app.state) renderAsOptions();
    setPlaceholder();
  }
  // The message box's hint: the reply keyboard's own when it has one, else who types.
  function setPlaceholder() {
    const who = app.chat && isGroupKind(app.chat.kind) ? app.chat.users.find((u) => u.id === app.asUser) : null;
    const as = who && who.id === app.state.me.id ? word("messageAsYou") : who ? word("messageAs", { name: who.name }) : "";
    els.input.placeholder = app.kbPlaceholder || as || word("message");
  }

  // ------------------------------------------------------------------ API
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const res = await fetch(path, init);
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new Error((data && data.error) || `HTTP ${res.status}`);
    return data;
  }

  // ------------------------------------------------------------------ toast & alert
  let toastTimer = null;
  function toast(text, ms = 2200) {
    els.toast.textContent = text;
    els.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { els.toast.hidden = true; }, ms);
  }
  function alertBox(text) {
    els.alertTitle.textContent = app.state ? app.state.bot.name : "Bot";
    els.alertText.textContent = text;
    els.alert.hidden = false;
    els.alertOk.focus();
  }
  els.alertOk.addEventListener("click", () => { els.alert.hidden = true; });
  els.alert.addEventListener("click", (e) => { if (e.target === els.alert) els.alert.hidden = true; });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { els.alert.hidden = true; els.sheet.hidden = true; }
  });

  // A short list to pick one from (each option's label set as text); ``empty`` is said when there is none.
  function chooseFrom(title, options, onPick, empty = "") {
    els.sheetTitle.textContent = title;
    els.sheetOptions.textContent = "";
    for (const option of options) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "sheet-option";
      b.textContent = option.label;
      b.addEventListener("click", () => { els.sheet.hidden = true; onPick(option.value); });
      els.sheetOptions.appendChild(b);
    }
    els.sheetEmpty.textContent = empty;
    els.sheetEmpty.hidden = options.length > 0 || !empty;
    els.sheetCancel.textContent = word("cancel");
    els.sheet.hidden = false;
    (els.sheetOptions.firstChild || els.sheetCancel).focus();
  }
  els.sheetCancel.addEventListener("click", () => { els.sheet.hidden = true; });
  els.sheet.addEventListener("click", (e) => { if (e.target === els.sheet) els.sheet.hidden = true; });

  // ------------------------------------------------------------------ chats
  // The demo forum is a group too (the same people); its messages in a topic say which.
  function isGroupKind(kind) { return kind === "group" || kind === "forum"; }

  function currentUserId() {
    if (app.chat.kind === "operator") return app.state.operator.id;
    return isGroupKind(app.chat.kind) ? app.asUser : app.state.me.id;
  }

  function initials(name) {
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => Array.from(w)[0]).join("").toUpperCase();
  }

  function renderAsOptions() {
    els.asOptions.textContent = "";
    const group = app.state.chats.find((c) => c.kind === "group");
    for (const u of group.users) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "as-option" + (u.id === app.asUser ? " selected" : "");
      b.dataset.userId = String(u.id);
      b.setAttribute("role", "radio");
      b.setAttribute("aria-checked", String(u.id === app.asUser));
      b.textContent = `${nameOf(u)} (${roleWord(u.role)})`;
      b.addEventListener("click", () => {
        app.asUser = u.id;
        renderAsOptions();
        setPlaceholder();
        els.input.focus();
      });
      els.asOptions.appendChild(b);
    }
  }

  function selectChat(kind) {
    const chat = app.state.chats.find((c) => c.kind === kind);
    if (!chat || (app.chat && app.chat.id === chat.id)) return;
    app.chat = chat;
    els.toast.hidden = true;
    els.sheet.hidden = true;  // a list to pick from belongs to the chat it was opened in
    for (const [k, tab] of Object.entries(els.tabs)) {
      tab.classList.toggle("active", k === kind);
      tab.setAttribute("aria-selected", String(k === kind));
    }
    els.title.textContent = chat.title;
    els.subtitle.textContent = subtitle(chat);
    els.avatar.textContent = initials(chat.title);
    els.avatar.classList.toggle("group", isGroupKind(kind));
    els.asRow.hidden = !isGroupKind(kind);
    renderReplyKeyboard(null);  // the selected chat's own comes with its snapshot
    // Start from a clean list: the snapshot of the newly selected chat fills it.
    for (const { row } of app.nodes.values()) row.remove();
    app.nodes.clear();
    app.version[chat.id] = "";
    startPolling();
  }

  // ------------------------------------------------------------------ rendering
  function hhmm(unix) {
    const d = new Date(unix * 1000);
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  }

  function buildRow(m) {
    if (m.service) {
      const s = document.createElement("div");
      s.className = "service";
      s.textContent = m.service;
      return s;
    }
    const row = document.createElement("div");
    row.className = "row " + (m.out ? "out" : "in");
    const isGroup = isGroupKind(app.chat.kind);
    if (isGroup && !m.out) {
      const slot = document.createElement("div");
      slot.className = "avatar-slot";
      const av = document.createElement("div");
      av.className = "avatar small";
      av.textContent = initials(m.sender.name || "?");
      if (!m.bot) av.style.background = m.sender.color;
      slot.appendChild(av);
      row.appendChild(slot);
    }
    const stack = document.createElement("div");
    stack.className = "stack";
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    if (m.thread) row.dataset.thread = m.thread;
    if (isGroup && !m.out) {
      const name = document.createElement("div");
      name.className = "sender";
      name.textContent = m.sender.name;
      name.style.color = m.bot ? "#3390ec" : m.sender.color;
      bubble.appendChild(name);
    }
    if (m.topic) {
      const topic = document.createElement("div");
      topic.className = "topic";
      topic.textContent = `🧵 ${m.topic}`;
      bubble.appendChild(topic);
    }
    if (m.reply) {
      const r = document.createElement("div");
      r.className = "reply";
      const rn = document.createElement("div");
      rn.className = "reply-name";
      rn.textContent = m.reply.name;
      const rt = document.createElement("div");
      rt.className = "reply-text";
      rt.textContent = m.reply.text;
      r.append(rn, rt);
      bubble.appendChild(r);
    }
    if (m.document) {
      const d = document.createElement("a");
      d.className = "document";
      d.href = m.document.url;
      d.download = m.document.name;
      d.textContent = `📄 ${m.document.name} · ${word("kb", { n: Math.max(1, Math.round(m.document.size / 1024)) })}`;
      bubble.appendChild(d);
    }
    if (m.invoice) {
      const t = document.createElement("div");
      t.className = "invoice-title";
      t.textContent = m.invoice.title;
      const d = document.createElement("div");
      d.className = "invoice-desc";
      d.textContent = m.invoice.description;
      const a = document.createElement("div");
      a.className = "invoice-amount";
      a.textContent = m.invoice.amount_text;
      bubble.append(t, d, a);
    }
    if (m.html !== null) {
      const text = document.createElement("div");
      text.className = "text";
      text.innerHTML = m.html; // escaped server-side; only whitelisted tags
      bubble.appendChild(text);
    }
    const meta = document.createElement("span");
    meta.className = "meta";
    if (m.edited) {
      const e = document.createElement("span");
      e.className = "edited";
      e.textContent = word("edited");
      meta.appendChild(e);
    }
    meta.appendChild(document.createTextNode(hhmm(m.date) + (m.out ? " ✓✓" : "")));
    (bubble.querySelector(".text") || bubble).appendChild(meta);
    stack.appendChild(bubble);

    let keyboard = m.keyboard;
    if (m.invoice && !keyboard.length) {
      keyboard = [[{ text: word("pay", { amount: m.invoice.amount_text }), kind: "pay" }]];
    }
    if (keyboard.length) {
      const kb = document.createElement("div");
      kb.className = "keyboard";
      for (const buttons of keyboard) {
        const kr = document.createElement("div");
        kr.className = "kb-row";
        for (const b of buttons) {
          const btn = document.createElement("button");
          btn.type = "button";
          btn.className = "kb-btn" + (b.kind === "url" ? " url" : "");
          btn.textContent = b.text;
          btn.title = b.text;
          btn.dataset.kind = b.kind;
          btn.dataset.messageId = String(m.id);
          if (b.kind === "callback") btn.dataset.callback = b.data;
          if (b.kind === "url") btn.dataset.url = b.url;
          if (b.kind === "copy") btn.dataset.copy = b.copy;
          if (b.kind === "pay" && m.invoice) btn.dataset.amount = m.invoice.amount_text;
          if (b.kind === "other") btn.disabled = true;
          kr.appendChild(btn);
        }
        kb.appendChild(kr);
      }
      stack.appendChild(kb);
    }
    row.appendChild(stack);
    row.dataset.messageId = String(m.id);
    row.dataset.sender = String(m.sender.id);
    return row;
  }

  function render(snap) {
    if (!app.chat || snap.chat_id !== app.chat.id) return;
    if ((snap.language || "en") !== app.lang) {  // the chat switched language: rebuild in its words
      app.lang = snap.language || "en";
      applyChromeWords();
      for (const { row } of app.nodes.values()) row.remove();
      app.nodes.clear();
    }
    const box = els.messages;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    const keep = new Set();
    let added = false;
    let prev = null;
    for (const m of snap.messages) {
      keep.add(m.id);
      const sig = JSON.stringify(m);
      const known = app.nodes.get(m.id);
      let row = known && known.row;
      if (!known) {
        row = buildRow(m);
        added = true;
      } else if (known.sig !== sig) {
        const fresh = buildRow(m);
        known.row.replaceWith(fresh);
        row = fresh;
        const bubble = fresh.querySelector(".bubble");
        if (bubble) bubble.classList.add("flash");
      }
      app.nodes.set(m.id, { row, sig });
      // keep DOM order = message order (the intro card stays first)
      const anchor = prev ? prev.nextSibling : els.intro.nextSibling;
      if (row !== anchor) box.insertBefore(row, anchor);
      prev = row;
    }
    for (const [id, { row }] of app.nodes) {
      if (!keep.has(id)) { row.remove(); app.nodes.delete(id); }
    }
    markRuns();
    renderReplyKeyboard(snap.reply_keyboard || null);
    const empty = snap.messages.length === 0;
    const privateEmpty = empty && app.chat.kind === "private";
    els.intro.hidden = !privateEmpty;
    els.start.hidden = !privateEmpty;
    els.composer.hidden = privateEmpty;
    if (added || nearBottom) box.scrollTop = box.scrollHeight;

    // unread badges
    for (const chat of app.state.chats) {
      const last = snap.last_ids[String(chat.id)] || 0;
      if (chat.id === app.chat.id || app.seen[chat.id] === undefined) app.seen[chat.id] = last;
      const badge = els.tabs[chat.kind].querySelector(".badge");
      const unread = last - app.seen[chat.id];
      badge.hidden = unread <= 0;
      badge.textContent = unread > 0 ? String(unread) : "";
    }
  }

  // The chat's reply keyboard above the message box, as Telegram shows it: rows of buttons; a plain one sends its
  // text, one asking for a chat opens the picker. Gone when the bot removes it (or a one-time one was used).
  function renderReplyKeyboard(kb) {
    const sig = kb ? JSON.stringify(kb) : "";
    app.kbPlaceholder = kb ? kb.placeholder : "";
    setPlaceholder();
    if (sig === app.replyKb) return;
    app.replyKb = sig;
    els.replyKb.textContent = "";
    els.replyKb.hidden = !kb;
    if (!kb) return;
    for (const buttons of kb.rows) {
      const row = document.createElement("div");
      row.className = "rk-row";
      for (const b of buttons) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "rk-btn";
        btn.textContent = b.text;
        btn.title = b.text;
        btn.dataset.kind = b.kind;
        if (b.kind === "chat") btn.dataset.requestId = String(b.request_id);
        if (b.kind === "other") btn.disabled = true;
        row.appendChild(btn);
      }
      els.replyKb.appendChild(row);
    }
  }

  // Consecutive messages of one sender: the name on the first, the avatar on the last (as Telegram groups do).
  function markRuns() {
    const items = Array.from(els.messages.children).filter((el) => el !== els.intro);
    const same = (a, b) => a && b && a.classList.contains("row") && b.classList.contains("row")
      && a.dataset.sender === b.dataset.sender;
    items.forEach((el, i) => {
      if (!el.classList.contains("row")) return;
      el.classList.toggle("cont", same(items[i - 1], el));
      el.classList.toggle("tail", !same(el, items[i + 1]));
    });
  }

  // ------------------------------------------------------------------ long poll
  async function startPolling() {
    if (app.poll) app.poll.abort();
    const ctrl = new AbortController();
    app.poll = ctrl;
    const chatId = app.chat.id;
    while (!ctrl.signal.aborted) {
      try {
        const after = encodeURIComponent(app.version[chatId] || "");
        const res = await fetch(`/api/chats/${chatId}/messages?after=${after}&wait=20`, { signal: ctrl.signal });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const snap = await res.json();
        if (ctrl.signal.aborted) break;
        app.version[chatId] = snap.version;
        render(snap);
      } catch (err) {
        if (ctrl.signal.aborted) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  async function refreshNow() {
    const chatId = app.chat.id;
    try {
      const snap = await api(`/api/chats/${chatId}/messages`);
      app.version[chatId] = snap.version;
      render(snap);
    } catch (_) { /* the long poll catches up */ }
  }

  // ------------------------------------------------------------------ actions
  async function sendText(text) {
    text = text.trim();
    if (!text) return;
    try {
      await api("/api/send", { chat_id: app.chat.id, user_id: currentUserId(), text });
      await refreshNow();
    } catch (err) {
      toast(err.message);
    }
  }

  async function press(btn) {
    if (btn.classList.contains("loading")) return;
    btn.classList.add("loading");
    try {
      const answer = await api("/api/press", {
        chat_id: app.chat.id, user_id: currentUserId(),
        message_id: Number(btn.dataset.messageId), callback_data: btn.dataset.callback,
      });
      if (answer.text) {
        if (answer.show_alert) alertBox(answer.text); else toast(answer.text);
      }
    } catch (err) {
      toast(err.message);
    } finally {
      btn.classList.remove("loading");
      refreshNow();
    }
  }

  async function pay(btn) {
    btn.classList.add("loading");
    try {
      const res = await api("/api/pay", {
        chat_id: app.chat.id, user_id: currentUserId(), message_id: Number(btn.dataset.messageId),
      });
      if (res.status === "paid") toast(btn.dataset.amount ? word("paid", { amount: btn.dataset.amount }) : word("paidPlain"));
      else if (res.status === "declined") alertBox(res.error_message || word("declined"));
      else toast(word("unconfirmed"));
    } catch (err) {
      toast(err.message);
    } finally {
      btn.classList.remove("loading");
      refreshNow();
    }
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const ta = document.createElement("textarea");
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      try { document.execCommand("copy"); } catch (__) { /* nothing */ }
      ta.remove();
    }
    toast(word("copied", { text }));
  }

  els.messages.addEventListener("click", (e) => {
    const btn = e.target.closest(".kb-btn");
    if (btn) {
      if (btn.dataset.kind === "callback") press(btn);
      else if (btn.dataset.kind === "pay") pay(btn);
      else if (btn.dataset.kind === "url") openUrl(btn.dataset.url);
      else if (btn.dataset.kind === "copy") copy(btn.dataset.copy);
      return;
    }
    // A hidden spoiler is revealed by the first tap (as on Telegram), even over a code: the code is copied by the
    // next one, once it can be seen.
    const spoiler = e.target.closest(".tg-spoiler");
    if (spoiler && !spoiler.classList.contains("shown")) { spoiler.classList.add("shown"); return; }
    const code = e.target.closest(".tg-code");
    if (code) { copy(code.textContent); return; }
    const cmd = e.target.closest(".tg-cmd");
    if (cmd) { sendText(cmd.textContent); return; }
    const link = e.target.closest("a[href]");
    if (link && topicOf(link.href)) { e.preventDefault(); openUrl(link.href); }
  });

  // A link to a forum topic (t.me/c/<chat>/<topic>) opens it here: the page shows the forum's topics in one
  // stream, so it scrolls to the topic's first message and marks it; any other link opens in a new tab.
  function topicOf(url) {
    const m = /^https:\/\/t\.me\/c\/\d+\/(\d+)$/.exec(url);
    return m ? m[1] : null;
  }
  function openUrl(url) {
    const thread = topicOf(url);
    const first = thread && els.messages.querySelector(`.row[data-thread="${thread}"]`);
    if (!first) { window.open(url, "_blank", "noopener"); return; }
    first.scrollIntoView({ block: "center" });
    first.classList.add("flash");
    setTimeout(() => first.classList.remove("flash"), 1500);
  }

  async function replyButton(btn) {
    if (btn.dataset.kind === "text") {
      try {
        await api("/api/reply_button", { chat_id: app.chat.id, user_id: currentUserId(), text: btn.textContent });
      } catch (err) {
        toast(err.message);
      }
      refreshNow();
      return;
    }
    // request_chat: the chats the button's criteria allow (as Telegram's picker lists them); the one picked is shared
    const requestId = Number(btn.dataset.requestId);
    const chatId = app.chat.id, userId = currentUserId();
    try {
      const res = await api("/api/share/chats", { chat_id: chatId, user_id: userId, request_id: requestId });
      chooseFrom(word("pickChat"), res.chats.map((c) => ({ label: c.title, value: c.id })), async (picked) => {
        try {
          await api("/api/share", { chat_id: chatId, user_id: userId, request_id: requestId, shared_chat_id: picked });
        } catch (err) {
          toast(err.message);
        }
        refreshNow();
      }, word("noChat"));
    } catch (err) {
      toast(err.message);
    }
  }
  els.replyKb.addEventListener("click", (e) => {
    const btn = e.target.closest(".rk-btn");
    if (btn && !btn.disabled) replyButton(btn);
  });

  els.composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = els.input.value;
    els.input.value = "";
    sendText(text);
  });
  els.start.addEventListener("click", () => sendText("/start"));
  for (const chip of document.querySelectorAll(".chip[data-cmd]")) {
    chip.addEventListener("click", () => sendText(chip.dataset.cmd));
  }
  // 📩: the chat's only active number gets a code at once; with several the server lists them to pick one.
  async function smsArrive(rentalId, chatId = app.chat.id) {
    els.sms.disabled = true;
    try {
      const body = { chat_id: chatId };
      if (rentalId !== undefined) body.rental_id = rentalId;
      const res = await api("/api/sms", body);
      if (res.choose) {
        chooseFrom(word("smsWhich"), res.choose.map((r) => ({
          label: r.service ? `${r.phone} · ${r.service}` : r.phone, value: r.rental_id,
        })), (picked) => smsArrive(picked, chatId));
      } else if (res.ok) toast(word("smsSent", { phone: res.phone }), 3000);
      else alertBox(res.error);
    } catch (err) {
      toast(err.message);
    } finally {
      els.sms.disabled = false;
    }
  }
  els.sms.addEventListener("click", () => smsArrive());
  // The sandbox providers' codes: on (the default), or never coming, to watch the no-code refund by tapping.
  els.codes.addEventListener("click", async () => {
    const arrive = els.codes.getAttribute("aria-pressed") !== "true";
    els.codes.disabled = true;
    try {
      const res = await api("/api/codes", { arrive });
      els.codes.setAttribute("aria-pressed", String(res.arrive));
      els.codes.textContent = word(res.arrive ? "codesStop" : "codesCome");
      toast(word(res.arrive ? "codesOn" : "codesOff"), 3000);
    } catch (err) {
      toast(err.message);
    } finally {
      els.codes.disabled = false;
    }
  });
  for (const [kind, tab] of Object.entries(els.tabs)) tab.addEventListener("click", () => selectChat(kind));

  // ------------------------------------------------------------------ start
  async function init() {
    for (let attempt = 0; ; attempt++) {
      try {
        app.state = await api("/api/state");
        break;
      } catch (err) {
        if (attempt === 0) toast("Connecting to the playground…", 5000);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    app.asUser = app.state.me.id;
    renderAsOptions();
    selectChat("private");
  }
  init();
})();
