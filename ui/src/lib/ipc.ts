// Every call into the Rust side goes through this module, so tests can mock it.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AccountInput,
  AccountView,
  AttentionSettings,
  EventDetail,
  HistoryItem,
  HistoryPage,
  HistoryQuery,
  IpcError,
  KeyInfo,
  KeyTest,
  LinkState,
  PauseChoice,
  Retention,
  RuleDecision,
  Snapshot,
} from "./types";

export type * from "./types";

export const EVENT_HISTORY = "tocsin://history";
export const EVENT_STATUS = "tocsin://status";
export const EVENT_LINK = "tocsin://link";

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

/** Whether the window is connected to the running Tocsin (it reconnects by itself). */
export function linkState(): Promise<LinkState> {
  return call("link_state");
}

export function setPaused(paused: boolean): Promise<Snapshot> {
  return call("set_paused", { paused });
}

/** The urgency rules as TOML. */
export function rulesGet(): Promise<string> {
  return call("rules_get");
}

/** Replaces the rules; rejects with an IpcError whose `field` names the rule and field when invalid. */
export function rulesSet(toml: string): Promise<void> {
  return call("rules_set", { toml });
}

/** What the rules (or a draft) decide for a stored event. */
export function rulesTest(id: number, toml: string | null): Promise<RuleDecision> {
  return call("rules_test", { id, toml });
}

/** Quiet hours, coalescing, repeats, and the notification and sound switches. */
export function attentionGet(): Promise<AttentionSettings> {
  return call("attention_get");
}

/** Rejects with invalid_argument, its `field` naming the setting, when a setting is refused. */
export function attentionSet(settings: AttentionSettings): Promise<void> {
  return call("attention_set", { settings });
}

/** One page of the history matching a query (newest first); `total` only for the first page. */
export function historyQuery(query: HistoryQuery): Promise<HistoryPage> {
  return call("history_query", { query });
}

/** Everything about one event; remote images are fetched and inlined only when allowed. */
export function historyDetail(id: number, allowRemoteImages: boolean): Promise<EventDetail> {
  return call("history_detail", { id, allowRemoteImages });
}

/** Marks an event read (also telling the provider, like markRead) or unread. */
export function setRead(id: number, read: boolean): Promise<void> {
  return call("set_read", { id, read });
}

/** Opens the event in the provider's web app (Rust opens its webUrl in the browser). */
export function openExternal(id: number): Promise<void> {
  return call("open_external", { id });
}

export function accountsList(): Promise<AccountView[]> {
  return call("accounts_list");
}

/** Adds (originalName null) or replaces an account; an invalid_argument refusal names its `field`. */
export function accountSave(account: AccountInput, originalName: string | null): Promise<AccountView[]> {
  return call("account_save", { account, originalName });
}

/** Removes an account and its key. */
export function accountRemove(name: string): Promise<AccountView[]> {
  return call("account_remove", { name });
}

/** Stores an account's key in the keychain; the key is never returned. */
export function keySet(account: string, key: string): Promise<KeyInfo> {
  return call("key_set", { account, key });
}

export function keyRemove(account: string): Promise<KeyInfo> {
  return call("key_remove", { account });
}

/** Connects with the stored key and reports what the provider said. */
export function keyTest(account: string): Promise<KeyTest> {
  return call("key_test", { account });
}

export function retentionGet(): Promise<Retention> {
  return call("retention_get");
}

export function retentionSet(retention: Retention): Promise<Retention> {
  return call("retention_set", { retention });
}

/** Pauses notifications for an hour, until tomorrow, until resumed, or resumes them. */
export function pause(choice: PauseChoice): Promise<Snapshot> {
  return call("pause", { choice });
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

/** The link to the running Tocsin was lost or is back. */
export function onLink(handler: (s: LinkState) => void): Promise<UnlistenFn> {
  return listen<LinkState>(EVENT_LINK, (e) => handler(e.payload));
}
