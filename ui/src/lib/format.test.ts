import { describe, expect, it } from "vitest";
import { appendOlder, causeLabel, describeState, humanSize, mergeNewest, overall, pauseLabel, relativeTime, retryIn, title } from "./format";
import type { HistoryItem } from "./types";
import type { Snapshot } from "./types";
import { item as fixture } from "../test/fixtures";

/** A history item with a fixed receive time (relative times are computed from it). */
function item(id: number, over: Partial<HistoryItem> = {}): HistoryItem {
  return fixture(id, { receivedAtMs: 1_700_000_000_000 + id, ...over });
}

describe("describeState", () => {
  it("puts every state in words", () => {
    expect(describeState({ state: "connecting" })).toBe("Connecting…");
    expect(describeState({ state: "authenticating" })).toBe("Signing in…");
    expect(describeState({ state: "subscribed" })).toBe("Connected");
    expect(describeState({ state: "reconnecting", attempt: 3, delayMs: 3500 })).toBe("Reconnecting (attempt 3, in 4 s)");
    expect(describeState({ state: "closed", reason: "the server rejected the API key", fatal: true })).toBe(
      "Stopped: the server rejected the API key",
    );
    expect(describeState({ state: "closed", reason: "stopped", fatal: false })).toBe("Stopped");
    expect(describeState({ state: "closed", reason: "server closed the connection", fatal: false })).toBe(
      "Stopped: server closed the connection",
    );
  });
});

describe("causeLabel", () => {
  it("names what failed from the cause, not the words", () => {
    expect(causeLabel({ kind: "auth" })).toBe("key refused");
    expect(causeLabel({ kind: "http", status: 503 })).toBe("HTTP 503");
    expect(causeLabel({ kind: "asked" })).toBeNull();
    expect(causeLabel(null)).toBeNull();
  });
});

describe("overall", () => {
  const base: Snapshot = { accounts: [], unreadUrgent: 0, paused: false, pausedUntilMs: null, demo: false, storeError: null, notifierError: null, notifierCause: null, keychainError: null };
  const acct = (state: Snapshot["accounts"][number]["state"]) => ({
    account: "a",
    provider: "daimon" as const,
    state,
    lastError: null,
    cause: null,
    eventsReceived: 0,
    transport: "websocket",
    nextRetryAtMs: null,
  });
  it("sums up the accounts", () => {
    expect(overall(base).label).toBe("No accounts");
    expect(overall({ ...base, accounts: [acct({ state: "subscribed" })] })).toEqual({ label: "All connected", tone: "ok" });
    expect(
      overall({ ...base, accounts: [acct({ state: "subscribed" }), acct({ state: "reconnecting", attempt: 1, delayMs: 1 })] }),
    ).toEqual({ label: "1 of 2 connected", tone: "warn" });
    expect(overall({ ...base, accounts: [acct({ state: "closed", reason: "x", fatal: true })] }).tone).toBe("error");
    expect(overall({ ...base, storeError: "disk full" }).label).toBe("History cannot be saved");
  });
});

describe("lists", () => {
  it("merges newest first and ignores known ids", () => {
    const list = [item(3), item(2)];
    expect(mergeNewest(list, [item(4)]).map((i) => i.id)).toEqual([4, 3, 2]);
    expect(mergeNewest(list, [item(3)])).toBe(list);
    expect(appendOlder(list, [item(2), item(1)]).map((i) => i.id)).toEqual([3, 2, 1]);
  });

  it("titles fall back to the provider type", () => {
    expect(title(item(1, { subject: null, kind: "message_bounced", providerType: "message.bounced" }))).toBe("Delivery failed");
    expect(title(item(1, { subject: null, kind: "other", providerType: "inbox.archived" }))).toBe("inbox.archived");
    expect(title(item(1, { subject: "  " }))).toBe("Message from a@b.c");
    expect(title(item(1, { subject: null, sender: null }))).toBe("New message");
  });

  it("formats relative times", () => {
    const now = 1_000_000_000;
    expect(relativeTime(now - 2_000, now)).toBe("just now");
    expect(relativeTime(now - 45_000, now)).toBe("45 s ago");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(relativeTime(now - 3 * 3_600_000, now)).toBe("3 h ago");
  });
});

describe("pauseLabel", () => {
  const base: Snapshot = { accounts: [], unreadUrgent: 0, paused: false, pausedUntilMs: null, demo: false, storeError: null, notifierError: null, notifierCause: null, keychainError: null };
  it("says whether and until when notifications are paused", () => {
    const now = new Date(2026, 10, 23, 9, 0).getTime();
    expect(pauseLabel(base, now)).toBeNull();
    expect(pauseLabel({ ...base, paused: true }, now)).toBe("Notifications paused");
    expect(pauseLabel({ ...base, paused: true, pausedUntilMs: now + 3_600_000 }, now)).toMatch(/^Paused until \S*10.00/);
    expect(pauseLabel({ ...base, paused: true, pausedUntilMs: now + 2 * 86_400_000 }, now)).toMatch(/^Paused until \S+ \S*09.00/);
  });
});

describe("humanSize and retryIn", () => {
  it("puts sizes in words", () => {
    expect(humanSize(0)).toBe("0 B");
    expect(humanSize(1023)).toBe("1023 B");
    expect(humanSize(1536)).toBe("1.5 KB");
    expect(humanSize(15 * 1024 * 1024)).toBe("15 MB");
    expect(humanSize(null)).toBe("size unknown");
  });

  it("counts down to the next retry", () => {
    expect(retryIn(null, 0)).toBeNull();
    expect(retryIn(5_000, 0)).toBe("next retry in 5 s");
    expect(retryIn(4_001, 0)).toBe("next retry in 5 s");
    expect(retryIn(0, 10)).toBe("retrying now");
    expect(retryIn(300_000, 0)).toBe("next retry in 5 min");
  });
});
