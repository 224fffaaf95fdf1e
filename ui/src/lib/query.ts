// History queries: the filter bar's state, the HistoryQuery it stands for, and the
// test deciding whether a live event belongs in the list the query shows.
import type { EventKind, HistoryItem, HistoryQuery, Provider, Tier } from "./types";

/** Rows fetched per page. */
export const PAGE = 100;

export type ReadFilter = "all" | "unread" | "read";
export type TimePreset = "all" | "hour" | "day" | "week" | "month" | "custom";

export type Filters = {
  text: string;
  accounts: string[];
  providers: Provider[];
  kinds: EventKind[];
  tiers: Tier[];
  read: ReadFilter;
  time: TimePreset;
  /** "YYYY-MM-DD" (local), for time = "custom"; "" = open. */
  from: string;
  to: string;
};

export const PROVIDERS: Provider[] = ["daimon", "agentmail", "prismer", "divinci", "bivariant"];
export const TIERS: Tier[] = ["urgent", "high", "normal", "low"];
export const KINDS: EventKind[] = [
  "message_received",
  "message_sent",
  "message_delivered",
  "message_bounced",
  "message_complained",
  "message_rejected",
  "message_opened",
  "message_read",
  "message_updated",
  "message_deleted",
  "stream_chunk",
  "stream_end",
  "typing",
  "presence",
  "conversation_changed",
  "task_updated",
  "notification",
  "account_changed",
  "calendar",
  "security_verdict",
  "transcript_updated",
  "gap",
  "other",
];

export const TIME_PRESETS: { value: TimePreset; label: string }[] = [
  { value: "all", label: "All time" },
  { value: "hour", label: "Last hour" },
  { value: "day", label: "Last 24 hours" },
  { value: "week", label: "Last 7 days" },
  { value: "month", label: "Last 30 days" },
  { value: "custom", label: "Custom range…" },
];

const HOUR = 3_600_000;
const PRESET_SPAN: Record<Exclude<TimePreset, "all" | "custom">, number> = {
  hour: HOUR,
  day: 24 * HOUR,
  week: 7 * 24 * HOUR,
  month: 30 * 24 * HOUR,
};

export function emptyFilters(): Filters {
  return { text: "", accounts: [], providers: [], kinds: [], tiers: [], read: "all", time: "all", from: "", to: "" };
}

/** Local midnight of a "YYYY-MM-DD" date, plus `days`; null when the string is not a date. */
export function localDayStart(date: string, days = 0): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days);
  return Number.isNaN(d.getTime()) ? null : d.getTime();
}

/** The time range of the filters, at `now`: [sinceMs, untilMs), either end open (null). */
export function timeRange(f: Pick<Filters, "time" | "from" | "to">, now: number): { sinceMs: number | null; untilMs: number | null } {
  switch (f.time) {
    case "all":
      return { sinceMs: null, untilMs: null };
    case "custom":
      // "to" is inclusive: up to the end of that day.
      return { sinceMs: localDayStart(f.from), untilMs: localDayStart(f.to, 1) };
    default:
      return { sinceMs: now - PRESET_SPAN[f.time], untilMs: null };
  }
}

/** The first page of the history the filters select. */
export function toQuery(f: Filters, now: number = Date.now(), limit: number = PAGE): HistoryQuery {
  const text = f.text.trim();
  return {
    text: text === "" ? null : text,
    accounts: [...f.accounts],
    providers: [...f.providers],
    kinds: [...f.kinds],
    tiers: [...f.tiers],
    read: f.read === "all" ? null : f.read === "read",
    ...timeRange(f, now),
    beforeId: null,
    limit,
  };
}

/** True when the query searches text (then only the Rust side can tell what matches). */
export function hasText(q: HistoryQuery): boolean {
  return q.text !== null && q.text.trim() !== "";
}

/** True when any filter (text included) narrows the history. */
export function isFiltered(q: HistoryQuery): boolean {
  return (
    hasText(q) ||
    q.accounts.length > 0 ||
    q.providers.length > 0 ||
    q.kinds.length > 0 ||
    q.tiers.length > 0 ||
    q.read !== null ||
    q.sinceMs !== null ||
    q.untilMs !== null
  );
}

/** Whether an event passes the query's filters, text and paging aside. */
export function matchesQuery(item: HistoryItem, q: HistoryQuery): boolean {
  if (q.accounts.length > 0 && !q.accounts.includes(item.account)) return false;
  if (q.providers.length > 0 && !q.providers.includes(item.provider)) return false;
  if (q.kinds.length > 0 && !q.kinds.includes(item.kind)) return false;
  if (q.tiers.length > 0 && !q.tiers.includes(item.tier)) return false;
  if (q.read !== null && item.read !== q.read) return false;
  if (q.sinceMs !== null && item.receivedAtMs < q.sinceMs) return false;
  if (q.untilMs !== null && item.receivedAtMs >= q.untilMs) return false;
  return true;
}

/** Digits in groups of three, separated by no-break spaces: "10 000". */
export function groupDigits(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
}

/** "1 result", "1 234 results", "10 000+ results", "No results". */
export function resultCount(total: number, capped: boolean): string {
  if (total === 0 && !capped) return "No results";
  const n = `${groupDigits(total)}${capped ? "+" : ""}`;
  return `${n} ${total === 1 && !capped ? "result" : "results"}`;
}

/** Toggles a value in a list (a new list). */
export function toggle<T>(list: readonly T[], value: T): T[] {
  return list.includes(value) ? list.filter((v) => v !== value) : [...list, value];
}
