import type { AccountStatus, AccountView, AttentionSettings, EventDetail, HistoryItem, HistoryPage, KeyInfo, Snapshot } from "../lib/types";

export function item(id: number, over: Partial<HistoryItem> = {}): HistoryItem {
  return {
    id,
    account: "demo",
    provider: "daimon",
    kind: "message_received",
    providerType: "message.received",
    providerEventId: null,
    messageId: null,
    tier: "normal",
    subject: `subject ${id}`,
    sender: "a@b.c",
    excerpt: "text",
    inbox: "inbox_ops",
    receivedAtMs: Date.now(),
    occurredAtMs: null,
    read: false,
    replayed: false,
    matches: null,
    ...over,
  };
}

/** `count` items, newest (highest id) first, ids `top` down to `top - count + 1`. */
export function items(count: number, top = count): HistoryItem[] {
  return Array.from({ length: count }, (_, i) => item(top - i));
}

export function account(over: Partial<AccountStatus> = {}): AccountStatus {
  return {
    account: "demo",
    provider: "daimon",
    state: { state: "subscribed" },
    lastError: null,
    cause: null,
    eventsReceived: 3,
    transport: "websocket",
    nextRetryAtMs: null,
    ...over,
  };
}

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return { accounts: [account()], unreadUrgent: 1, paused: false, pausedUntilMs: null, demo: true, storeError: null, notifierError: null, notifierCause: null, keychainError: null, ...over };
}

/** jsdom lays nothing out: give an element a viewport and a settable scroll position. */
export function fakeViewport(el: HTMLElement, height: number): { scrollTo(top: number): void } {
  let top = 0;
  Object.defineProperty(el, "clientHeight", { configurable: true, get: () => height });
  Object.defineProperty(el, "scrollTop", {
    configurable: true,
    get: () => top,
    set: (v: number) => {
      top = Math.max(0, v);
    },
  });
  return {
    scrollTo(v: number) {
      top = Math.max(0, v);
      el.dispatchEvent(new Event("scroll"));
    },
  };
}

/** A first page of query results. */
export function page(list: HistoryItem[], total: number | null = list.length, totalCapped = false): HistoryPage {
  return { items: list, total, totalCapped };
}

export function detail(id: number, over: Partial<EventDetail> = {}): EventDetail {
  return {
    item: item(id, { subject: "Quarterly report", sender: "ceo@example.com" }),
    messageId: "<m1@example.com>",
    thread: "thr_1",
    topic: null,
    labels: ["inbox", "important"],
    attachments: [{ id: "a1", filename: "report.pdf", contentType: "application/pdf", size: 1536 }],
    headers: [
      { name: "From", value: "ceo@example.com" },
      { name: "To", value: "ops@example.com" },
    ],
    text: "Hello,\n  the report is attached.",
    html: { document: "<!doctype html><html><body><p>Hello</p></body></html>", remoteImages: 0, remoteLoaded: false },
    webUrl: "https://mail.example.com/m/1",
    raw: '{\n  "type": "message.received"\n}',
    ...over,
  };
}

export function keyInfo(over: Partial<KeyInfo> = {}): KeyInfo {
  return { state: "missing", last4: null, backend: "Secret Service", message: null, ...over };
}

export function accountView(name: string, over: Partial<AccountView> = {}): AccountView {
  return {
    account: {
      name,
      provider: "daimon",
      url: "wss://ws.daimon.email/v1/stream",
      auth: "bearer",
      authParam: null,
      tokenUrl: null,
      restUrl: null,
      caFile: null,
      inboxes: ["inbox_ops"],
      pods: [],
      eventTypes: [],
      conversations: [],
      topics: [],
      backoff: { baseMs: 1000, capMs: 30000, maxAttempts: 0, stableAfterMs: 60000 },
    },
    key: keyInfo(),
    demo: false,
    ...over,
  };
}

export function attention(over: Partial<AttentionSettings> = {}): AttentionSettings {
  return {
    quiet_hours: [{ days: ["Mon", "Tue", "Wed", "Thu", "Fri"], start: "22:00", end: "07:00" }],
    quiet_min_tier: "urgent",
    coalesce_max: 5,
    coalesce_window_secs: 30,
    repeat_urgent_secs: 300,
    notifications_enabled: true,
    sound: true,
    ...over,
  };
}
