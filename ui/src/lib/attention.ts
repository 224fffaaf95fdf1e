// The Settings screen's logic for attention settings (quiet hours, coalescing, repeats).
import type { AttentionSettings, IpcError, QuietWindow, Weekday } from "./types";
import { problemOf } from "./format";

export const WEEKDAYS: Weekday[] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** Days in week order, canonical spelling ("mon" → "Mon"), each once; unknown names dropped. */
export function normalizeDays(days: readonly string[]): Weekday[] {
  const wanted = new Set(days.map((d) => d.slice(0, 1).toUpperCase() + d.slice(1, 3).toLowerCase()));
  return WEEKDAYS.filter((d) => wanted.has(d));
}

export function toggleDay(days: readonly Weekday[], day: Weekday): Weekday[] {
  return normalizeDays(days.includes(day) ? days.filter((d) => d !== day) : [...days, day]);
}

/** "HH:MM", 00:00 to 23:59. */
export function isTime(s: string): boolean {
  return /^([01]\d|2[0-3]):[0-5]\d$/.test(s);
}

export function newWindow(): QuietWindow {
  return { days: ["Mon", "Tue", "Wed", "Thu", "Fri"], start: "22:00", end: "07:00" };
}

/** The settings with canonical day names, as the Settings screen edits them. */
export function normalizeSettings(s: AttentionSettings): AttentionSettings {
  return { ...s, quiet_hours: s.quiet_hours.map((w) => ({ ...w, days: normalizeDays(w.days) })) };
}

/** What is wrong with a quiet window, or null. */
export function windowError(w: QuietWindow): string | null {
  if (w.days.length === 0) return "Pick at least one day.";
  if (!isTime(w.start) || !isTime(w.end)) return "Times are HH:MM.";
  return null;
}

/** "Mon, Tue 22:00–07:00 (overnight)"; equal times mean 24 hours. */
export function describeWindow(w: QuietWindow): string {
  const days = w.days.length === 7 ? "Every day" : w.days.length === 0 ? "No day" : w.days.join(", ");
  if (isTime(w.start) && w.start === w.end) return `${days} from ${w.start}, 24 hours`;
  const overnight = isTime(w.start) && isTime(w.end) && w.end < w.start ? " (overnight)" : "";
  return `${days} ${w.start}–${w.end}${overnight}`;
}

/** Limits the Rust side enforces (tocsin-engine attention.rs). */
export const LIMITS = { coalesceMax: [1, 100], coalesceWindowSecs: [1, 3600], repeatSecs: [30, 86_400] } as const;

/** The settings a refusal can be shown next to (the rest go to the top of the section). */
export const ATTENTION_FIELDS = ["quiet_min_tier", "coalesce_max", "coalesce_window_secs", "repeat_urgent_secs"] as const;
export type AttentionField = (typeof ATTENTION_FIELDS)[number];

const normalize = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
const BY_NORMAL = new Map<string, AttentionField>(ATTENTION_FIELDS.map((f) => [normalize(f), f]));

/** Where a refusal from attention_set belongs, from its `field`: "quiet_hours[2].start"
 *  names the second window (counted from 1), "coalesce_max" a setting; anything else
 *  (or no field) goes to the top, as it was said. The message loses its "<field>: ". */
export function placeAttentionError(e: IpcError): { window: number | null; field: string | null; message: string } {
  const unplaced = { window: null, field: null, message: e.message };
  if (!e.field) return unplaced;
  const [head = "", ...rest] = e.field.split(".");
  const open = head.indexOf("[");
  const name = normalize(open < 0 ? head : head.slice(0, open));
  if (name === "quiethours") {
    const index = open < 0 || !head.endsWith("]") ? NaN : Number(head.slice(open + 1, -1));
    if (!Number.isInteger(index) || index < 1) return unplaced;
    return { window: index - 1, field: rest.length > 0 ? rest.join(".") : null, message: problemOf(e) };
  }
  const field = rest.length === 0 ? BY_NORMAL.get(name) : undefined;
  return field ? { window: null, field, message: problemOf(e) } : unplaced;
}
