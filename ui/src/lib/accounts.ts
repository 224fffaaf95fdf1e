// The Accounts screen's logic: the form's draft of an AccountInput, list fields,
// placing a refusal next to the field it names, and key states in words.
import type { AccountInput, AuthMode, BackoffConfig, IpcError, KeyInfo } from "./types";
import { problemOf } from "./format";

export const PROVIDER_CHOICES: { value: string; label: string; placeholder: string }[] = [
  { value: "daimon", label: "daimon", placeholder: "wss://ws.daimon.email/v1/stream" },
  { value: "agentmail", label: "AgentMail", placeholder: "wss://ws.agentmail.to/v0" },
  { value: "prismer", label: "Prismer", placeholder: "wss://prismer.cloud/ws" },
  { value: "divinci", label: "Divinci", placeholder: "wss://…" },
  { value: "bivariant", label: "Bivariant", placeholder: "wss://eu1.api.bivariant.com/v1/ws or nats://…" },
];

export const AUTH_CHOICES: { value: AuthMode; label: string }[] = [
  { value: "bearer", label: "Bearer header (preferred)" },
  { value: "query", label: "Key in the URL query" },
  { value: "frame", label: "Authentication frame after connecting" },
  { value: "token", label: "Connection token fetched over HTTP" },
];

/** The supervisor's defaults. */
export const DEFAULT_BACKOFF: BackoffConfig = { baseMs: 1000, capMs: 30_000, maxAttempts: 0, stableAfterMs: 60_000 };

export const LIST_FIELDS = ["inboxes", "pods", "eventTypes", "conversations", "topics"] as const;
export type ListField = (typeof LIST_FIELDS)[number];
export const NUMBER_FIELDS = ["baseMs", "capMs", "maxAttempts", "stableAfterMs"] as const;
export type NumberField = (typeof NUMBER_FIELDS)[number];

/** The form's state: lists as text, optional strings as "" when absent. */
export type AccountDraft = {
  name: string;
  provider: string;
  url: string;
  auth: AuthMode;
  authParam: string;
  tokenUrl: string;
  restUrl: string;
  caFile: string;
} & Record<ListField, string> &
  Record<NumberField, number | null>;

export type DraftField = keyof AccountDraft;

export const DRAFT_FIELDS: DraftField[] = [
  "name",
  "provider",
  "url",
  "auth",
  "authParam",
  "tokenUrl",
  "restUrl",
  "caFile",
  ...LIST_FIELDS,
  ...NUMBER_FIELDS,
];

/** Items of a comma- or newline-separated list, trimmed, empty ones left out. */
export function parseList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function joinList(list: readonly string[]): string {
  return list.join("\n");
}

export function emptyDraft(provider = "daimon"): AccountDraft {
  return toDraft({
    name: "",
    provider,
    url: "",
    auth: "bearer",
    authParam: null,
    tokenUrl: null,
    restUrl: null,
    caFile: null,
    inboxes: [],
    pods: [],
    eventTypes: [],
    conversations: [],
    topics: [],
    backoff: { ...DEFAULT_BACKOFF },
  });
}

export function toDraft(a: AccountInput): AccountDraft {
  return {
    name: a.name,
    provider: a.provider,
    url: a.url,
    auth: a.auth,
    authParam: a.authParam ?? "",
    tokenUrl: a.tokenUrl ?? "",
    restUrl: a.restUrl ?? "",
    caFile: a.caFile ?? "",
    inboxes: joinList(a.inboxes),
    pods: joinList(a.pods),
    eventTypes: joinList(a.eventTypes),
    conversations: joinList(a.conversations),
    topics: joinList(a.topics),
    baseMs: a.backoff.baseMs,
    capMs: a.backoff.capMs,
    maxAttempts: a.backoff.maxAttempts,
    stableAfterMs: a.backoff.stableAfterMs,
  };
}

const optional = (s: string): string | null => (s.trim() === "" ? null : s.trim());

/** Field problems the form can tell before asking (numbers only: the Rust side validates the rest). */
export function draftErrors(d: AccountDraft): Partial<Record<DraftField, string>> {
  const errors: Partial<Record<DraftField, string>> = {};
  for (const f of NUMBER_FIELDS) {
    const v = d[f];
    if (v === null || v === undefined || !Number.isInteger(v) || v < 0) errors[f] = "enter a whole number, 0 or more";
  }
  return errors;
}

/** The AccountInput a (valid) draft stands for. */
export function fromDraft(d: AccountDraft): AccountInput {
  return {
    name: d.name.trim(),
    provider: d.provider,
    url: d.url.trim(),
    auth: d.auth,
    authParam: optional(d.authParam),
    tokenUrl: optional(d.tokenUrl),
    restUrl: optional(d.restUrl),
    caFile: optional(d.caFile),
    inboxes: parseList(d.inboxes),
    pods: parseList(d.pods),
    eventTypes: parseList(d.eventTypes),
    conversations: parseList(d.conversations),
    topics: parseList(d.topics),
    backoff: {
      baseMs: d.baseMs ?? 0,
      capMs: d.capMs ?? 0,
      maxAttempts: d.maxAttempts ?? 0,
      stableAfterMs: d.stableAfterMs ?? 0,
    },
  };
}

const normalize = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
const BY_NORMAL = new Map<string, DraftField>(DRAFT_FIELDS.map((f) => [normalize(f), f]));
const NUMBER_NORMAL = new Set<string>(NUMBER_FIELDS.map(normalize));

/** The form field an error's `field` names: "url", "authParam" (or "auth_param"),
 *  "backoff.capMs", "inboxes[2]", optionally under "accounts[N]."; null when it names none. */
export function draftFieldOf(field: string | null | undefined): DraftField | null {
  if (!field) return null;
  // "accounts[2].backoff.capMs" → ["accounts", "backoff", "capms"]: indexes dropped, names normalized.
  let segments = field.split(".").map((s) => normalize(s.split("[")[0]!));
  if (segments.length > 1 && (segments[0] === "accounts" || segments[0] === "account")) segments = segments.slice(1);
  if (segments.length === 2 && segments[0] === "backoff") return NUMBER_NORMAL.has(segments[1]!) ? (BY_NORMAL.get(segments[1]!) ?? null) : null;
  return segments.length === 1 ? (BY_NORMAL.get(segments[0]!) ?? null) : null;
}

/** Where a refusal from account_save belongs: next to the form field its `field` names,
 *  with the problem alone, or (field null) at the top of the form, as it was said. */
export function fieldOfError(e: IpcError): { field: DraftField | null; message: string } {
  const field = draftFieldOf(e.field);
  return field ? { field, message: problemOf(e) } : { field: null, message: e.message };
}

export type KeyStatus = { tone: "ok" | "warn" | "error" | "idle"; label: string; warning: string | null };

/** A key's state in words. Only the last four characters are ever shown. */
export function keyStatus(k: KeyInfo): KeyStatus {
  switch (k.state) {
    case "stored":
      return { tone: "ok", label: k.last4 ? `Key stored ••••${k.last4}` : "Key stored", warning: null };
    case "environment":
      return { tone: "ok", label: k.last4 ? `Key from the environment ••••${k.last4}` : "Key from the environment", warning: null };
    case "missing":
      return { tone: "idle", label: "No key stored", warning: k.message };
    case "locked":
      return { tone: "warn", label: "Keychain locked", warning: k.message ?? "The keychain is locked: unlock it to use this key." };
    case "unavailable":
      return { tone: "warn", label: "Keychain unavailable", warning: k.message ?? "No keychain is available to store keys." };
    case "error":
      return { tone: "error", label: "Key error", warning: k.message ?? "The key could not be read." };
  }
}
