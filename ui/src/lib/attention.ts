// The Settings screen's logic for attention settings (quiet hours, coalescing, repeats).
import type { AttentionSettings, QuietWindow, Weekday } from "./types";

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

/** Where a refusal from attention_set belongs: "quiet_hours[2].start: ..." names the
 *  second window (counted from 1); other messages name a setting or nothing. */
export function placeAttentionError(message: string): { window: number | null; field: string | null; message: string } {
  const m = /^quiet_hours\[(\d+)\](?:\.(\w+))?:\s*(.*)$/s.exec(message);
  if (m) return { window: Number(m[1]) - 1, field: m[2] ?? null, message: m[3]! };
  const f = /^([a-z_]+):\s*(.*)$/s.exec(message);
  if (f) return { window: null, field: f[1]!, message: f[2]! };
  return { window: null, field: null, message };
}
