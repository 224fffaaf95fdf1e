import { describe, expect, it } from "vitest";
import { draftErrors, draftFieldOf, emptyDraft, fieldOfError, fromDraft, keyStatus, parseList, toDraft } from "./accounts";
import type { IpcError } from "./types";
import { accountView, keyInfo } from "../test/fixtures";

describe("account drafts", () => {
  it("parses comma- and newline-separated lists", () => {
    expect(parseList("a, b\nc,,\n  d  \n")).toEqual(["a", "b", "c", "d"]);
    expect(parseList("   ")).toEqual([]);
  });

  it("round-trips an account, with empty optional fields as null", () => {
    const a = { ...accountView("work").account, pods: ["p1", "p2"], topics: ["t.*"], caFile: "/etc/ca.pem" };
    expect(fromDraft(toDraft(a))).toEqual(a);
    const d = { ...emptyDraft("agentmail"), name: " mail ", url: " wss://x ", authParam: "  ", inboxes: "a,b" };
    expect(fromDraft(d)).toMatchObject({ name: "mail", url: "wss://x", provider: "agentmail", authParam: null, inboxes: ["a", "b"] });
    expect(fromDraft(d).backoff).toEqual({ baseMs: 1000, capMs: 30000, maxAttempts: 0, stableAfterMs: 60000 });
  });

  it("checks numbers before asking", () => {
    expect(draftErrors(emptyDraft())).toEqual({});
    expect(Object.keys(draftErrors({ ...emptyDraft(), capMs: null, maxAttempts: -1, baseMs: 1.5 })).sort()).toEqual(["baseMs", "capMs", "maxAttempts"]);
  });
});

describe("fieldOfError", () => {
  const refusal = (field: string | null, message: string): IpcError => ({ code: "invalid_argument", field, message });

  it("places a refusal next to the field it names", () => {
    expect(fieldOfError(refusal("url", "must start with wss:// or ws://"))).toEqual({ field: "url", message: "must start with wss:// or ws://" });
    expect(fieldOfError(refusal("authParam", "only for auth = query")).field).toBe("authParam");
    expect(fieldOfError(refusal("eventTypes", "unknown type x")).field).toBe("eventTypes");
    expect(fieldOfError(refusal("backoff.capMs", "must be at least baseMs"))).toEqual({ field: "capMs", message: "must be at least baseMs" });
    expect(fieldOfError(refusal("caFile", "no such file")).field).toBe("caFile");
  });

  it("takes field names in snake_case, under an account, or with an index", () => {
    expect(draftFieldOf("auth_param")).toBe("authParam");
    expect(draftFieldOf("backoff.cap_ms")).toBe("capMs");
    expect(draftFieldOf("accounts[2].name")).toBe("name");
    expect(draftFieldOf("accounts[0].backoff.maxAttempts")).toBe("maxAttempts");
    expect(draftFieldOf("inboxes[2]")).toBe("inboxes");
    expect(draftFieldOf("backoff.url")).toBeNull();
    expect(draftFieldOf("tls.url")).toBeNull();
  });

  it("shows the problem alone even when the message repeats the field", () => {
    expect(fieldOfError(refusal("name", "name: already used"))).toEqual({ field: "name", message: "already used" });
  });

  it("leaves other refusals for the top of the form, as they were said", () => {
    expect(fieldOfError(refusal(null, "the config file could not be written: disk full"))).toEqual({ field: null, message: "the config file could not be written: disk full" });
    expect(fieldOfError(refusal("secret", "secret: nope"))).toEqual({ field: null, message: "secret: nope" });
    expect(fieldOfError({ code: "internal", message: "url: looks like a field but the error names none" }).field).toBeNull();
  });
});

describe("keyStatus", () => {
  it("shows only the last four characters", () => {
    expect(keyStatus(keyInfo({ state: "stored", last4: "9f3a" })).label).toBe("Key stored ••••9f3a");
    expect(keyStatus(keyInfo({ state: "stored", last4: "9f3a" })).tone).toBe("ok");
  });

  it("warns when the keychain is locked or missing", () => {
    const locked = keyStatus(keyInfo({ state: "locked", message: "unlock the login keyring" }));
    expect(locked).toMatchObject({ tone: "warn", warning: "unlock the login keyring" });
    expect(keyStatus(keyInfo({ state: "unavailable" })).warning).toContain("No keychain");
    expect(keyStatus(keyInfo({ state: "error", message: "dbus said no" })).tone).toBe("error");
  });
});
