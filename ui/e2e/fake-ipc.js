// An in-page fake of Tocsin's Rust side for the browser end-to-end tests: installed
// with page.addInitScript before the app loads, it answers every IPC command of the
// contract (ui/src/lib/ipc.ts) from a few hundred generated events, some of them
// carrying XSS payloads in every field. Plain JavaScript: it runs as it is in the page.
//
// Test hooks on window: __xss (anything a payload managed to run records itself here),
// __csp (CSP violations in the app's document), __calls (every command and its
// arguments, keys redacted), __fake (emit events, add live events, read the state).
(() => {
  if (window.top !== window) return; // frames (the sandboxed message body) get nothing
  const NOW = Date.now();
  const MIN = 60_000;

  window.__xss = [];
  window.__csp = [];
  window.__calls = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`),
  );
  // A payload inside the sandboxed frame cannot touch window.top (opaque origin); it
  // would have to postMessage. Anything that arrives counts as executed.
  window.addEventListener("message", (e) => {
    if (typeof e.data === "string" && e.data.startsWith("xss")) window.__xss.push(e.data);
  });

  // ---- The XSS corpus: put in subjects, senders, excerpts, bodies, headers, labels, names.
  const XSS = [
    `<img src=x onerror="window.top.__xss.push('img-onerror')">`,
    `<script>window.top.__xss.push('script')</script>`,
    `<svg onload="window.top.__xss.push('svg-onload')"></svg>`,
    `"><iframe srcdoc="<script>parent.__xss.push('nested-iframe')</script>"></iframe>`,
    `<a href="javascript:window.top.__xss.push('js-url')">click</a>`,
    `<details open ontoggle="window.top.__xss.push('details-ontoggle')">x</details>`,
    `<body onload="alert('body-onload')">`,
    `{@html '<img src=x onerror=alert(1)>'}`,
    `<math><mtext><table><mglyph><style><img src=x onerror="window.top.__xss.push('mxss')">`,
    `<input autofocus onfocus="window.top.__xss.push('autofocus')">`,
    `javascript:alert('bare-js-url')`,
    `<object data="data:text/html,<script>parent.__xss.push('object')</script>"></object>`,
  ];
  window.__xssCorpus = XSS;

  const ACCOUNTS = [
    { name: "work", provider: "daimon", url: "wss://ws.daimon.email/v1/stream", inbox: "inbox_ops" },
    { name: "mail", provider: "agentmail", url: "wss://ws.agentmail.to/v0", inbox: "support@agentmail.to" },
    { name: "chat", provider: "prismer", url: "wss://prismer.cloud/ws", inbox: null },
    { name: "topics", provider: "bivariant", url: "wss://eu1.api.bivariant.com/v1/ws", inbox: null },
  ];
  const SUBJECTS = [
    "Invoice #{n} is overdue",
    "Quarterly report draft v{n}",
    "Deploy failed on prod-{n}",
    "Lunch on Friday?",
    "Security alert: new sign-in from Berlin",
    "Your order {n} has shipped",
    "Re: contract renewal",
    "Weekly metrics digest",
    "Pager: disk usage 9{n}% on db-{n}",
  ];
  const WORDS = "please review the attached numbers before the meeting tomorrow and confirm the budget for the migration project thanks".split(" ");
  const KINDS = ["message_received", "message_received", "message_received", "message_bounced", "message_delivered", "task_updated", "notification", "message_received"];

  function tierOf(id) {
    if (id % 10 === 0) return "urgent";
    if (id % 7 === 0) return "high";
    if (id % 5 === 0) return "low";
    return "normal";
  }

  function body(id) {
    const words = [];
    for (let i = 0; i < 40; i++) words.push(WORDS[(id * 7 + i * 3) % WORDS.length]);
    return words.join(" ") + ".";
  }

  /** The stored events, id → event (HistoryItem fields plus a body). */
  const events = [];
  const COUNT = 300;
  for (let id = 1; id <= COUNT; id++) {
    const acct = ACCOUNTS[id % ACCOUNTS.length];
    const hostile = id % 15 === 0;
    let subject = SUBJECTS[id % SUBJECTS.length].replaceAll("{n}", String(id % 10));
    let sender = `${["alice", "bob", "carol", "dave", "billing"][id % 5]}@example.com`;
    let excerpt = body(id).slice(0, 80);
    if (hostile) {
      subject = `report ${XSS[(id / 15) % XSS.length]}`;
      sender = XSS[(id / 15 + 1) % XSS.length];
      excerpt = XSS[(id / 15 + 2) % XSS.length];
    }
    events.push({
      id,
      account: acct.name,
      provider: acct.provider,
      kind: KINDS[id % KINDS.length],
      providerType: "message.received",
      providerEventId: `evt_${id}`,
      messageId: `msg_${id}`,
      tier: tierOf(id),
      subject,
      sender,
      excerpt,
      inbox: acct.inbox,
      receivedAtMs: NOW - (COUNT - id) * 7 * MIN - 30_000,
      occurredAtMs: null,
      read: id % 3 === 0,
      replayed: false,
      hostile,
      body: hostile ? `${body(id)} ${XSS.join(" ")}` : body(id),
    });
  }
  // The newest event: what the screenshots show in the detail pane.
  Object.assign(events[COUNT - 1], {
    subject: "Quarterly report: numbers for the board review",
    sender: "Dana Finance <cfo@example.com>",
    tier: "urgent",
    kind: "message_received",
    account: "work",
    provider: "daimon",
    inbox: "inbox_ops",
    read: false,
    hostile: false,
    body: "Hi team,\n\nthe quarterly report is attached. Please review the numbers before Thursday's board meeting.\n\n  Revenue: 1.2 M\n  Costs:   0.8 M\n\nThanks,\nDana",
    excerpt: "Hi team, the quarterly report is attached. Please review the numbers before…",
  });

  const itemOf = (e) => {
    const { body: _b, hostile: _h, ...item } = e;
    return item;
  };

  // ---- Search: every word must appear (case-insensitive) in subject, sender or body.
  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  function mark(s, words) {
    if (!s) return null;
    const re = new RegExp(words.map(escapeRe).join("|"), "gi");
    return re.test(s) ? s.replace(re, (m) => `\u0002${m}\u0003`) : null;
  }
  function snippet(text, words) {
    const lower = text.toLowerCase();
    const at = Math.min(...words.map((w) => lower.indexOf(w.toLowerCase())).filter((i) => i >= 0));
    if (!Number.isFinite(at)) return null;
    const start = Math.max(0, at - 30);
    const end = Math.min(text.length, at + 90);
    return mark(`${start > 0 ? "…" : ""}${text.slice(start, end)}${end < text.length ? "…" : ""}`, words);
  }
  function searchMatches(e, words) {
    const hay = `${e.subject ?? ""}\n${e.sender ?? ""}\n${e.body}`.toLowerCase();
    if (!words.every((w) => hay.includes(w.toLowerCase()))) return null;
    return { subject: mark(e.subject, words), sender: mark(e.sender, words), snippet: snippet(e.body, words) };
  }

  function passes(e, q) {
    if (q.accounts.length && !q.accounts.includes(e.account)) return false;
    if (q.providers.length && !q.providers.includes(e.provider)) return false;
    if (q.kinds.length && !q.kinds.includes(e.kind)) return false;
    if (q.tiers.length && !q.tiers.includes(e.tier)) return false;
    if (q.read !== null && e.read !== q.read) return false;
    if (q.sinceMs !== null && e.receivedAtMs < q.sinceMs) return false;
    if (q.untilMs !== null && e.receivedAtMs >= q.untilMs) return false;
    return true;
  }

  function historyQuery(q) {
    if (!(q.limit >= 1 && q.limit <= 1000)) throw invalid("must be between 1 and 1000", "limit");
    const words = (q.text ?? "").trim().split(/\s+/).filter(Boolean);
    const hits = [];
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i];
      if (!passes(e, q)) continue;
      let matches = null;
      if (words.length) {
        matches = searchMatches(e, words);
        if (!matches) continue;
      }
      hits.push({ ...itemOf(e), matches });
    }
    const page = hits.filter((h) => q.beforeId === null || h.id < q.beforeId).slice(0, q.limit);
    return { items: page, total: q.beforeId === null ? hits.length : null, totalCapped: false };
  }

  // ---- Detail.
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const PIXEL = "data:image/svg+xml;base64," + btoa('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="#4c8bf5"/></svg>');
  function documentFor(e, remoteLoaded) {
    // Deliberately NOT sanitized (the Rust side sanitizes with ammonia): the frame's
    // sandbox alone must keep every one of these from running.
    const images = remoteLoaded ? `<p><img alt="chart" src="${PIXEL}"> <img alt="logo" src="${PIXEL}"></p>` : `<p>[2 images not loaded]</p>`;
    return `<!doctype html><html><head><meta charset="utf-8"><title>m</title>
<style>body{font-family:sans-serif;margin:16px;color:#222} h1{font-size:18px} .warn{color:#b71c1c}</style></head>
<body><h1>${esc(e.subject)}</h1><p>${esc(e.body).replaceAll("\n", "<br>")}</p>${images}
<p class="warn">This body carries live XSS payloads; the sandbox must stop all of them.</p>
<script>parent.postMessage('xss-srcdoc-script','*');try{window.top.__xss.push('srcdoc-script')}catch(_){}</script>
<img src="x-broken" onerror="parent.postMessage('xss-srcdoc-img','*')">
<svg onload="parent.postMessage('xss-srcdoc-svg','*')"></svg>
<iframe srcdoc="<script>parent.parent.postMessage('xss-srcdoc-nested','*')</script>"></iframe>
<form action="javascript:parent.postMessage('xss-srcdoc-form','*')"><button id="go">go</button></form>
<a id="jslink" href="javascript:parent.postMessage('xss-srcdoc-link','*')">a link</a>
<meta http-equiv="refresh" content="0;url=javascript:parent.postMessage('xss-srcdoc-refresh','*')">
${e.hostile ? XSS.join("\n") : ""}
</body></html>`;
  }

  function historyDetail(id, allowRemoteImages) {
    const e = events.find((x) => x.id === id);
    if (!e) throw { code: "not_found", message: `event ${id} is no longer stored` };
    const hasHtml = e.id % 4 !== 1;
    return {
      item: { ...itemOf(e), matches: null },
      messageId: `<${e.id}@example.com>`,
      thread: `thr_${e.id % 20}`,
      topic: e.provider === "bivariant" ? "alerts.prod" : null,
      labels: e.hostile ? ["inbox", XSS[0]] : ["inbox", e.tier === "urgent" ? "important" : "updates"],
      attachments:
        e.id % 2 === 0
          ? [
              { id: "att_1", filename: e.hostile ? XSS[1] : "report-Q3.pdf", contentType: "application/pdf", size: 248_320 },
              { id: "att_2", filename: "numbers.csv", contentType: "text/csv", size: 1536 },
            ]
          : [],
      headers: [
        { name: "From", value: e.sender ?? "" },
        { name: "To", value: "ops@example.com" },
        { name: "Subject", value: e.subject ?? "" },
        { name: "Date", value: new Date(e.receivedAtMs).toUTCString() },
        { name: "X-Provider-Type", value: e.providerType },
      ],
      text: e.body,
      html: hasHtml ? { document: documentFor(e, allowRemoteImages), remoteImages: 2, remoteLoaded: !!allowRemoteImages } : null,
      webUrl: e.provider === "daimon" || e.provider === "agentmail" ? `https://app.example.com/messages/${e.id}` : null,
      raw: JSON.stringify({ type: e.providerType, id: `msg_${e.id}`, subject: e.subject, from: e.sender, text: e.body }, null, 2),
    };
  }

  // ---- Status, pause.
  let paused = false;
  let pausedUntilMs = null;
  function snapshot() {
    return {
      accounts: [
        { account: "work", provider: "daimon", state: { state: "subscribed" }, lastError: null, cause: null, eventsReceived: 120, transport: "websocket", nextRetryAtMs: null },
        { account: "mail", provider: "agentmail", state: { state: "reconnecting", attempt: 3, delayMs: 30000 }, lastError: "connection reset by peer", cause: { kind: "network" }, eventsReceived: 64, transport: "websocket", nextRetryAtMs: Date.now() + 30_000 },
        { account: "chat", provider: "prismer", state: { state: "closed", reason: "401 invalid API key", fatal: true }, lastError: "401 invalid API key", cause: { kind: "auth" }, eventsReceived: 0, transport: "websocket", nextRetryAtMs: null },
        { account: "topics", provider: "bivariant", state: { state: "subscribed" }, lastError: null, cause: null, eventsReceived: 33, transport: "sse", nextRetryAtMs: null },
      ],
      unreadUrgent: events.filter((e) => e.tier === "urgent" && !e.read).length,
      paused,
      pausedUntilMs,
      demo: false,
      storeError: null,
      notifierError: null,
      notifierCause: null,
      keychainError: null,
    };
  }

  // ---- Accounts and keys.
  const input = (a, over = {}) => ({
    name: a.name,
    provider: a.provider,
    url: a.url,
    auth: "bearer",
    authParam: null,
    tokenUrl: null,
    restUrl: null,
    caFile: null,
    inboxes: a.inbox ? [a.inbox] : [],
    pods: [],
    eventTypes: [],
    conversations: [],
    topics: [],
    backoff: { baseMs: 1000, capMs: 30000, maxAttempts: 0, stableAfterMs: 60000 },
    ...over,
  });
  let accounts = [
    { account: input(ACCOUNTS[0]), key: { state: "stored", last4: "7f3a", backend: "Secret Service", message: null }, demo: false },
    { account: input(ACCOUNTS[1], { auth: "query", authParam: "api_key" }), key: { state: "missing", last4: null, backend: "Secret Service", message: "No key stored: save one to connect." }, demo: false },
    { account: input(ACCOUNTS[2], { auth: "frame", conversations: ["conv_1", "conv_2"] }), key: { state: "locked", last4: null, backend: "Secret Service", message: "The login keyring is locked: unlock it (or sign in again) to use this key." }, demo: false },
    { account: input(ACCOUNTS[3], { topics: ["alerts.>", "deploys.*"] }), key: { state: "stored", last4: "b1b1", backend: "Secret Service", message: null }, demo: false },
    { account: input({ name: "demo", provider: "divinci", url: "ws://127.0.0.1:7878/divinci", inbox: null }), key: { state: "missing", last4: null, backend: "none", message: null }, demo: true },
  ];
  // A refusal: `field` names the input it is about (as the Rust side sends it), when there is one.
  const invalid = (message, field = null) => ({ code: "invalid_argument", field, message });
  function accountSave(a, originalName) {
    if (originalName !== null && accounts.find((v) => v.account.name === originalName)?.demo) throw invalid("demo accounts are read-only", "name");
    if (!/^[A-Za-z0-9_-]+$/.test(a.name)) throw invalid(`"${a.name}" must be letters, digits, - or _`, "name");
    if (accounts.some((v) => v.account.name === a.name && v.account.name !== originalName)) throw invalid(`an account named ${a.name} already exists`, "name");
    if (!["daimon", "agentmail", "prismer", "divinci", "bivariant"].includes(a.provider)) throw invalid(`unknown provider ${a.provider}`, "provider");
    if (!/^(wss|ws|nats|tls):\/\//.test(a.url)) throw invalid(`"${a.url}" must start with wss:// (or ws:// for a local server; nats:// for the topic platform's bus)`, "url");
    if (a.caFile !== null && !a.caFile.endsWith(".pem")) throw invalid(`${a.caFile} is not a PEM file`, "caFile");
    if (a.backoff.capMs < a.backoff.baseMs) throw invalid("must be at least base_ms", "backoff.capMs");
    if (a.auth === "token" && !a.tokenUrl) throw invalid("required when auth = \"token\"", "tokenUrl");
    const existing = accounts.find((v) => v.account.name === originalName);
    const view = { account: a, key: existing?.key ?? { state: "missing", last4: null, backend: "Secret Service", message: null }, demo: false };
    accounts = originalName === null ? [...accounts, view] : accounts.map((v) => (v.account.name === originalName ? view : v));
    return accounts;
  }
  const accountView = (name) => {
    const v = accounts.find((x) => x.account.name === name);
    if (!v) throw { code: "not_found", message: `no account named ${name}` };
    return v;
  };
  function setKey(name, key) {
    accounts = accounts.map((v) => (v.account.name === name ? { ...v, key } : v));
    return key;
  }

  // ---- Settings.
  let attention = {
    quiet_hours: [{ days: ["Mon", "Tue", "Wed", "Thu", "Fri"], start: "22:00", end: "07:00" }],
    quiet_min_tier: "urgent",
    coalesce_max: 5,
    coalesce_window_secs: 30,
    repeat_urgent_secs: 300,
    notifications_enabled: true,
    sound: true,
  };
  let retention = { maxAgeDays: 180, maxEvents: null };
  let autostart = false;
  let rules =
    '# Urgency rules: the first enabled rule that matches decides.\n\n[[rules]]\nname = "Urgent subject"\nwhen = { subject_contains = ["[URGENT]", "Pager"] }\nthen = { tier = "urgent", notify = true, sound = "alarm" }\n\n[[rules]]\nname = "Bounces"\nwhen = { kind = "message_bounced" }\nthen = { tier = "high" }\n';
  const TIME = /^([01]?\d|2[0-3]):[0-5]\d$/;
  function attentionSet(s) {
    s.quiet_hours.forEach((w, i) => {
      if (!w.days.length) throw invalid(`quiet_hours[${i + 1}].days: choose at least one day the quiet hours start on`, `quiet_hours[${i + 1}].days`);
      if (!TIME.test(w.start)) throw invalid(`quiet_hours[${i + 1}].start: "${w.start}" is not a time of day; use HH:MM`, `quiet_hours[${i + 1}].start`);
      if (!TIME.test(w.end)) throw invalid(`quiet_hours[${i + 1}].end: "${w.end}" is not a time of day; use HH:MM`, `quiet_hours[${i + 1}].end`);
    });
    if (!(s.coalesce_max >= 1 && s.coalesce_max <= 100)) throw invalid("coalesce_max: must be 1 to 100", "coalesce_max");
    if (!(s.coalesce_window_secs >= 1 && s.coalesce_window_secs <= 3600)) throw invalid("coalesce_window_secs: must be 1 to 3600", "coalesce_window_secs");
    if (s.repeat_urgent_secs !== null && !(s.repeat_urgent_secs >= 30 && s.repeat_urgent_secs <= 86400)) throw invalid("repeat_urgent_secs: must be 30 to 86400 seconds", "repeat_urgent_secs");
    attention = structuredClone(s);
  }
  function rulesTest(id, toml) {
    const e = events.find((x) => x.id === id);
    if (!e) throw { code: "not_found", message: `event ${id} is no longer stored` };
    const name = /name\s*=\s*"([^"]*)"/.exec(toml ?? rules);
    return { tier: e.tier, notify: e.tier === "urgent", sound: e.tier === "urgent" ? "alarm" : null, rule: e.tier === "urgent" && name ? name[1] : null };
  }

  // ---- The window's link to the running Tocsin (window.__fake.setLink loses or restores it).
  let link = { connected: true, error: null, retrying: false };
  function setLink(state) {
    link = state;
    emit("tocsin://link", link);
  }

  // ---- Events (tocsin://history, tocsin://status, tocsin://focus, tocsin://link) and callbacks.
  const callbacks = new Map();
  const listeners = new Map(); // event name → callback ids
  let nextCallback = 1;
  function emit(event, payload) {
    for (const id of listeners.get(event) ?? []) callbacks.get(id)?.({ event, id, payload });
  }
  function addLive(over = {}) {
    const id = events[events.length - 1].id + 1;
    const e = {
      ...itemOf(events[events.length - 1]),
      id,
      receivedAtMs: Date.now(),
      read: false,
      tier: "normal",
      subject: `Live event ${id}`,
      sender: "live@example.com",
      excerpt: "arrived while the window was open",
      hostile: false,
      body: "arrived while the window was open",
      ...over,
    };
    events.push(e);
    emit("tocsin://history", itemOf(e));
    return id;
  }

  const commands = {
    history_query: (a) => historyQuery(a.query),
    history_list: (a) => historyQuery({ text: null, accounts: [], providers: [], kinds: [], tiers: [], read: null, sinceMs: null, untilMs: null, beforeId: a.beforeId, limit: a.limit }).items,
    history_detail: (a) => historyDetail(a.id, a.allowRemoteImages),
    set_read: (a) => {
      const e = events.find((x) => x.id === a.id);
      if (!e) throw { code: "not_found", message: `event ${a.id} is no longer stored` };
      e.read = a.read;
      emit("tocsin://status", snapshot());
      return null;
    },
    mark_read: (a) => commands.set_read({ id: a.id, read: true }),
    reply: () => null,
    open_external: () => null,
    status: () => snapshot(),
    link_state: () => link,
    set_paused: (a) => {
      paused = a.paused;
      pausedUntilMs = null;
      return snapshot();
    },
    pause: (a) => {
      const at8 = new Date();
      at8.setDate(at8.getDate() + 1);
      at8.setHours(8, 0, 0, 0);
      paused = a.choice !== "resume";
      pausedUntilMs = a.choice === "hour" ? Date.now() + 3_600_000 : a.choice === "tomorrow" ? at8.getTime() : null;
      const s = snapshot();
      emit("tocsin://status", s);
      return s;
    },
    take_focus: () => null,
    accounts_list: () => accounts,
    account_save: (a) => accountSave(a.account, a.originalName),
    account_remove: (a) => {
      accountView(a.name);
      accounts = accounts.filter((v) => v.account.name !== a.name);
      return accounts;
    },
    key_set: (a) => {
      accountView(a.account);
      if (a.key.length < 8) throw invalid("key: too short to be an API key");
      return setKey(a.account, { state: "stored", last4: a.key.slice(-4), backend: "Secret Service", message: null });
    },
    key_remove: (a) => setKey(a.account, { state: "missing", last4: null, backend: "Secret Service", message: "No key stored: save one to connect." }),
    key_test: (a) => {
      const v = accountView(a.account);
      return v.key.state === "stored" ? { ok: true, message: `Connected and authenticated to ${v.account.provider}.` } : { ok: false, message: v.key.message ?? "No key stored." };
    },
    retention_get: () => retention,
    retention_set: (a) => {
      if (a.retention.maxAgeDays !== null && a.retention.maxAgeDays < 1) throw invalid("max_age_days: must be at least 1");
      retention = { ...a.retention };
      return retention;
    },
    attention_get: () => structuredClone(attention),
    attention_set: (a) => attentionSet(a.settings),
    autostart_enabled: () => autostart,
    set_autostart: (a) => (autostart = a.enabled),
    rules_get: () => rules,
    rules_set: (a) => {
      if (/subject_regex\s*=\s*"\(/.test(a.toml)) throw invalid('rule 1 "Broken": subject_regex: unclosed group', "rules[1].subject_regex");
      if (!/\[\[rules\]\]/.test(a.toml)) throw invalid("rules: expected at least one [[rules]] table");
      rules = a.toml;
      return null;
    },
    rules_test: (a) => rulesTest(a.id, a.toml),
    "plugin:event|listen": (a) => {
      if (!listeners.has(a.event)) listeners.set(a.event, []);
      listeners.get(a.event).push(a.handler);
      return a.handler;
    },
    "plugin:event|unlisten": (a) => {
      const ids = listeners.get(a.event) ?? [];
      listeners.set(a.event, ids.filter((id) => id !== a.eventId));
      return null;
    },
  };

  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: "main" }, currentWebview: { windowLabel: "main", label: "main" } },
    invoke(cmd, args = {}) {
      const logged = cmd === "key_set" ? { account: args.account, keyLength: args.key.length } : structuredClone(args);
      window.__calls.push({ cmd, args: logged });
      const handler = commands[cmd];
      return new Promise((resolve, reject) =>
        setTimeout(() => {
          if (!handler) return reject({ code: "internal", message: `the fake has no command ${cmd}` });
          try {
            const out = handler(args);
            resolve(out === undefined ? null : structuredClone(out));
          } catch (e) {
            reject(e);
          }
        }, 3),
      );
    },
    transformCallback(callback, once = false) {
      const id = nextCallback++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        return callback && callback(data);
      });
      return id;
    },
    unregisterCallback(id) {
      callbacks.delete(id);
    },
    runCallback(id, data) {
      callbacks.get(id)?.(data);
    },
    callbacks,
    convertFileSrc: (p) => p,
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = {
    unregisterListener(event, id) {
      callbacks.delete(id);
    },
  };
  window.__fake = {
    emit,
    addLive,
    setLink,
    snapshot,
    event: (id) => itemOf(events.find((e) => e.id === id)),
    get attention() {
      return structuredClone(attention);
    },
    get rules() {
      return rules;
    },
    get accounts() {
      return structuredClone(accounts);
    },
    NOW,
  };
})();
