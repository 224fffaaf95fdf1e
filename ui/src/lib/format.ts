import type { Cause, ConnState, IpcError } from "./types";
import type { Snapshot } from "./types";
import type { HistoryItem } from "./types";

/**
 * What failed, in two or three words, from the error's cause (never from its text);
 * null when nothing did (a reconnect that was asked for).
 */
export function causeLabel(cause: Cause | null): string | null {
  if (!cause) return null;
  switch (cause.kind) {
    case "http":
      return `HTTP ${cause.status}`;
    case "tls":
      return "TLS failed";
    case "timeout":
      return "no answer";
    case "auth":
      return "key refused";
    case "eviction":
      return "taken over";
    case "limit":
      return "limit reached";
    case "network":
      return "network";
    case "config":
      return "check settings";
    case "protocol":
      return "server error";
    case "asked":
      return null;
  }
}

/** A connection state in words. */
export function describeState(s: ConnState): string {
  switch (s.state) {
    case "connecting":
      return "Connecting…";
    case "authenticating":
      return "Signing in…";
    case "open":
      return "Connected";
    case "subscribed":
      return "Connected";
    case "reconnecting":
      return `Reconnecting (attempt ${s.attempt}, in ${Math.max(1, Math.ceil(s.delayMs / 1000))} s)`;
    case "closed": {
      // "stopped" is the reason for an orderly shutdown: nothing more to say.
      const reason = s.reason.trim();
      return reason && reason !== "stopped" ? `Stopped: ${reason}` : "Stopped";
    }
  }
}

/** The one-line summary shown in the header. */
export function overall(s: Snapshot): { label: string; tone: "ok" | "warn" | "error" | "idle" } {
  if (s.storeError) return { label: "History cannot be saved", tone: "error" };
  if (s.accounts.some((a) => a.state.state === "closed" && a.state.fatal)) return { label: "Action needed", tone: "error" };
  const up = s.accounts.filter((a) => a.state.state === "subscribed" || a.state.state === "open").length;
  if (s.accounts.length === 0) return { label: "No accounts", tone: "idle" };
  if (up === s.accounts.length) return { label: "All connected", tone: "ok" };
  return { label: `${up} of ${s.accounts.length} connected`, tone: "warn" };
}

/** What the pause means now: null when notifications are on. */
export function pauseLabel(s: Snapshot, now: number = Date.now()): string | null {
  if (!s.paused) return null;
  const until = s.pausedUntilMs;
  if (until === null || until === undefined) return "Notifications paused";
  const end = new Date(until);
  const sameDay = new Date(now).toDateString() === end.toDateString();
  const time = end.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return sameDay ? `Paused until ${time}` : `Paused until ${end.toLocaleDateString(undefined, { weekday: "short" })} ${time}`;
}

const UNITS: [number, string][] = [
  [60, "s"],
  [60, "min"],
  [24, "h"],
];

/** "just now", "5 min ago", "3 h ago", or a date. */
export function relativeTime(ms: number, now: number = Date.now()): string {
  let delta = Math.max(0, Math.round((now - ms) / 1000));
  if (delta < 10) return "just now";
  for (const [size, unit] of UNITS) {
    if (delta < size) return `${delta} ${unit} ago`;
    delta = Math.floor(delta / size);
  }
  return new Date(ms).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

const KIND_TITLES: Partial<Record<HistoryItem["kind"], string>> = {
  message_bounced: "Delivery failed",
  message_complained: "Marked as spam by a recipient",
  message_rejected: "Message rejected",
  message_delivered: "Delivered",
  message_opened: "Opened",
  message_sent: "Sent",
  message_read: "Read",
  account_changed: "Account changed",
  gap: "Possible gap in history",
};

/** The row title: the subject, else what happened in words, else the provider's type. */
export function title(item: HistoryItem): string {
  if (item.subject && item.subject.trim()) return item.subject;
  if (item.kind === "message_received" || item.kind === "message_sent") {
    const who = item.sender?.trim();
    return who ? `Message from ${who}` : "New message";
  }
  return KIND_TITLES[item.kind] ?? item.providerType;
}

/** Merges newly arrived items into a newest-first list, ignoring ids already present. */
export function mergeNewest(list: HistoryItem[], incoming: HistoryItem[]): HistoryItem[] {
  // The common case: one live event, newer than everything shown.
  if (incoming.length === 1 && (list.length === 0 || incoming[0]!.id > list[0]!.id)) return [incoming[0]!, ...list];
  const seen = new Set(list.map((i) => i.id));
  const fresh = incoming.filter((i) => !seen.has(i.id));
  if (fresh.length === 0) return list;
  return [...fresh, ...list].sort((a, b) => b.id - a.id);
}

/** Appends an older page, ignoring ids already present. */
export function appendOlder(list: HistoryItem[], older: HistoryItem[]): HistoryItem[] {
  const seen = new Set(list.map((i) => i.id));
  return [...list, ...older.filter((i) => !seen.has(i.id))];
}

/** A byte count for people: "512 B", "1.5 KB", "12 MB". */
export function humanSize(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return "size unknown";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "next retry in 5 s" for a reconnecting account; null when no retry is scheduled. */
export function retryIn(nextRetryAtMs: number | null | undefined, now: number = Date.now()): string | null {
  if (nextRetryAtMs === null || nextRetryAtMs === undefined) return null;
  const s = Math.ceil((nextRetryAtMs - now) / 1000);
  if (s <= 0) return "retrying now";
  if (s < 120) return `next retry in ${s} s`;
  return `next retry in ${Math.ceil(s / 60)} min`;
}

/** A date and time in the user's locale. */
export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** What an error says is wrong, without a leading "<field>: " when the message starts with
 *  the field the error names (attention refusals do; account refusals do not). */
export function problemOf(e: IpcError): string {
  const prefix = e.field ? `${e.field}:` : null;
  return prefix && e.message.startsWith(prefix) ? e.message.slice(prefix.length).trim() : e.message;
}
