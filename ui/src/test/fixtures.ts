import type { HistoryItem } from "../lib/bindings/HistoryItem";
import type { AccountStatus } from "../lib/bindings/AccountStatus";
import type { Snapshot } from "../lib/bindings/Snapshot";

export function item(id: number, over: Partial<HistoryItem> = {}): HistoryItem {
  return {
    id,
    account: "demo",
    provider: "daimon",
    kind: "message_received",
    providerType: "message.received",
    tier: "normal",
    subject: `subject ${id}`,
    sender: "a@b.c",
    excerpt: "text",
    inbox: "inbox_ops",
    receivedAtMs: Date.now(),
    occurredAtMs: null,
    read: false,
    replayed: false,
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
    eventsReceived: 3,
    transport: "websocket",
    ...over,
  };
}

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return { accounts: [account()], unreadUrgent: 1, paused: false, pausedUntilMs: null, demo: true, storeError: null, notifierError: null, ...over };
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
