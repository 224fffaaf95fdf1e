// The IPC types in one place: the bindings generated from the Rust types (ts-rs, in
// ./bindings, never edited by hand), re-exported, plus two names for types the bindings
// inline. Import IPC types from here (or from ./ipc, which re-exports this module).
import type { AccountInput } from "./bindings/AccountInput";
import type { QuietWindow } from "./bindings/QuietWindow";

export type { AccountInput, QuietWindow };
export type { EventKind } from "./bindings/EventKind";
export type { HistoryItem } from "./bindings/HistoryItem";
export type { HistoryPage } from "./bindings/HistoryPage";
export type { HistoryQuery } from "./bindings/HistoryQuery";
export type { PauseChoice } from "./bindings/PauseChoice";
export type { Provider } from "./bindings/Provider";
export type { Tier } from "./bindings/Tier";
export type { AccountStatus } from "./bindings/AccountStatus";
export type { AccountView } from "./bindings/AccountView";
export type { Attachment } from "./bindings/Attachment";
export type { AttentionSettings } from "./bindings/AttentionSettings";
export type { BackoffConfig } from "./bindings/BackoffConfig";
export type { Cause } from "./bindings/Cause";
export type { ConnState } from "./bindings/ConnState";
export type { ErrorCode } from "./bindings/ErrorCode";
export type { EventDetail } from "./bindings/EventDetail";
export type { Header } from "./bindings/Header";
export type { IpcError } from "./bindings/IpcError";
export type { KeyInfo } from "./bindings/KeyInfo";
export type { KeyState } from "./bindings/KeyState";
export type { KeyTest } from "./bindings/KeyTest";
export type { LinkState } from "./bindings/LinkState";
export type { Retention } from "./bindings/Retention";
export type { RuleDecision } from "./bindings/RuleDecision";
export type { SafeHtml } from "./bindings/SafeHtml";
export type { SearchMatches } from "./bindings/SearchMatches";
export type { Snapshot } from "./bindings/Snapshot";

/** Inlined in the AccountInput binding. */
export type AuthMode = AccountInput["auth"];
/** Inlined in the QuietWindow binding. */
export type Weekday = QuietWindow["days"][number];
