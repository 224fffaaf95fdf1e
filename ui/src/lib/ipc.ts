// Every call into the Rust side goes through this module, so tests can mock it.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { HistoryItem } from "./bindings/HistoryItem";
import type { Snapshot } from "./bindings/Snapshot";
import type { IpcError } from "./bindings/IpcError";
import type { RuleDecision } from "./bindings/RuleDecision";

export type { HistoryItem, Snapshot, IpcError, RuleDecision };

export const EVENT_HISTORY = "tocsin://history";
export const EVENT_STATUS = "tocsin://status";

/** Turns whatever a rejected invoke produced into an IpcError. */
export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === "object" && "code" in e && "message" in e) return e as IpcError;
  return { code: "internal", message: e instanceof Error ? e.message : String(e) };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

export function historyList(limit: number, beforeId: number | null): Promise<HistoryItem[]> {
  return call("history_list", { limit, beforeId });
}

export function markRead(id: number): Promise<void> {
  return call("mark_read", { id });
}

export function reply(id: number, text: string): Promise<void> {
  return call("reply", { id, text });
}

export function status(): Promise<Snapshot> {
  return call("status");
}

export function setPaused(paused: boolean): Promise<Snapshot> {
  return call("set_paused", { paused });
}

/** The urgency rules as TOML. */
export function rulesGet(): Promise<string> {
  return call("rules_get");
}

/** Replaces the rules; rejects with an IpcError naming the rule and field when invalid. */
export function rulesSet(toml: string): Promise<void> {
  return call("rules_set", { toml });
}

/** What the rules (or a draft) decide for a stored event. */
export function rulesTest(id: number, toml: string | null): Promise<RuleDecision> {
  return call("rules_test", { id, toml });
}

/** Quiet hours, coalescing and repeats. */
export function attentionGet(): Promise<Record<string, unknown>> {
  return call("attention_get");
}

export function attentionSet(settings: Record<string, unknown>): Promise<void> {
  return call("attention_set", { settings });
}

/** Whether Tocsin starts in the tray at login. */
export function autostartEnabled(): Promise<boolean> {
  return call("autostart_enabled");
}

export function setAutostart(enabled: boolean): Promise<boolean> {
  return call("set_autostart", { enabled });
}

export const EVENT_FOCUS = "tocsin://focus";

/** The event a notification asked the window to show, once. */
export function takeFocus(): Promise<number | null> {
  return call("take_focus");
}

export function onFocus(handler: (id: number) => void): Promise<UnlistenFn> {
  return listen<number>(EVENT_FOCUS, (e) => handler(e.payload));
}

export function onHistory(handler: (item: HistoryItem) => void): Promise<UnlistenFn> {
  return listen<HistoryItem>(EVENT_HISTORY, (e) => handler(e.payload));
}

export function onStatus(handler: (s: Snapshot) => void): Promise<UnlistenFn> {
  return listen<Snapshot>(EVENT_STATUS, (e) => handler(e.payload));
}
