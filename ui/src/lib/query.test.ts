import { describe, expect, it } from "vitest";
import { emptyFilters, groupDigits, hasText, isFiltered, localDayStart, matchesQuery, resultCount, timeRange, toQuery } from "./query";
import { item } from "../test/fixtures";

const NOW = new Date(2026, 4, 20, 12, 0, 0).getTime();
const HOUR = 3_600_000;

describe("toQuery", () => {
  it("asks for everything by default", () => {
    expect(toQuery(emptyFilters(), NOW)).toEqual({
      text: null,
      accounts: [],
      providers: [],
      kinds: [],
      tiers: [],
      read: null,
      sinceMs: null,
      untilMs: null,
      beforeId: null,
      limit: 100,
    });
  });

  it("maps every filter", () => {
    const q = toQuery(
      { ...emptyFilters(), text: "  invoice due ", accounts: ["work"], providers: ["agentmail"], kinds: ["message_bounced"], tiers: ["urgent", "high"], read: "unread", time: "day" },
      NOW,
    );
    expect(q).toMatchObject({ text: "invoice due", accounts: ["work"], providers: ["agentmail"], kinds: ["message_bounced"], tiers: ["urgent", "high"], read: false });
    expect(q.sinceMs).toBe(NOW - 24 * HOUR);
    expect(q.untilMs).toBeNull();
    expect(toQuery({ ...emptyFilters(), read: "read" }, NOW).read).toBe(true);
    expect(toQuery({ ...emptyFilters(), text: "   " }, NOW).text).toBeNull();
  });

  it("turns presets and custom dates into a range", () => {
    expect(timeRange({ time: "hour", from: "", to: "" }, NOW)).toEqual({ sinceMs: NOW - HOUR, untilMs: null });
    expect(timeRange({ time: "week", from: "", to: "" }, NOW).sinceMs).toBe(NOW - 7 * 24 * HOUR);
    expect(timeRange({ time: "month", from: "", to: "" }, NOW).sinceMs).toBe(NOW - 30 * 24 * HOUR);
    // The "to" day is included: the range ends at the next local midnight.
    expect(timeRange({ time: "custom", from: "2026-05-01", to: "2026-05-03" }, NOW)).toEqual({
      sinceMs: new Date(2026, 4, 1).getTime(),
      untilMs: new Date(2026, 4, 4).getTime(),
    });
    expect(timeRange({ time: "custom", from: "", to: "2026-12-31" }, NOW)).toEqual({ sinceMs: null, untilMs: new Date(2027, 0, 1).getTime() });
    expect(localDayStart("not a date")).toBeNull();
  });
});

describe("matchesQuery", () => {
  const base = toQuery(emptyFilters(), NOW);
  const it1 = item(1, { account: "work", provider: "agentmail", kind: "message_bounced", tier: "urgent", read: false, receivedAtMs: NOW - 2 * HOUR });

  it("passes everything with no filters, and ignores text and paging", () => {
    expect(matchesQuery(it1, base)).toBe(true);
    expect(matchesQuery(it1, { ...base, text: "nothing like it", beforeId: 1 })).toBe(true);
  });

  it("applies each filter", () => {
    expect(matchesQuery(it1, { ...base, accounts: ["work", "home"] })).toBe(true);
    expect(matchesQuery(it1, { ...base, accounts: ["home"] })).toBe(false);
    expect(matchesQuery(it1, { ...base, providers: ["agentmail"] })).toBe(true);
    expect(matchesQuery(it1, { ...base, providers: ["daimon"] })).toBe(false);
    expect(matchesQuery(it1, { ...base, kinds: ["message_bounced"] })).toBe(true);
    expect(matchesQuery(it1, { ...base, kinds: ["message_received"] })).toBe(false);
    expect(matchesQuery(it1, { ...base, tiers: ["urgent"] })).toBe(true);
    expect(matchesQuery(it1, { ...base, tiers: ["low", "normal"] })).toBe(false);
    expect(matchesQuery(it1, { ...base, read: false })).toBe(true);
    expect(matchesQuery(it1, { ...base, read: true })).toBe(false);
  });

  it("treats the range as [since, until)", () => {
    const t = it1.receivedAtMs;
    expect(matchesQuery(it1, { ...base, sinceMs: t })).toBe(true);
    expect(matchesQuery(it1, { ...base, sinceMs: t + 1 })).toBe(false);
    expect(matchesQuery(it1, { ...base, untilMs: t + 1 })).toBe(true);
    expect(matchesQuery(it1, { ...base, untilMs: t })).toBe(false);
  });
});

describe("counts and flags", () => {
  it("says how many results", () => {
    expect(resultCount(0, false)).toBe("No results");
    expect(resultCount(1, false)).toBe("1 result");
    expect(resultCount(1234, false)).toBe("1\u00a0234 results");
    expect(resultCount(10000, true)).toBe("10\u00a0000+ results");
    expect(groupDigits(1000000)).toBe("1\u00a0000\u00a0000");
  });

  it("knows a text search and a filtered query", () => {
    const q = toQuery(emptyFilters(), NOW);
    expect(hasText(q)).toBe(false);
    expect(isFiltered(q)).toBe(false);
    expect(hasText({ ...q, text: "x" })).toBe(true);
    expect(isFiltered({ ...q, read: false })).toBe(true);
  });
});
