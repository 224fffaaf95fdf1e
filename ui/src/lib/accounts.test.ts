import { describe, expect, it } from "vitest";
import { draftErrors, emptyDraft, fieldOfError, fromDraft, keyStatus, parseList, toDraft } from "./accounts";
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
  it("places a refusal next to the field it names", () => {
    expect(fieldOfError("url: must start with wss:// or ws://")).toEqual({ field: "url", message: "must start with wss:// or ws://" });
    expect(fieldOfError("auth_param: only for auth = query").field).toBe("authParam");
    expect(fieldOfError("event_types: unknown type x").field).toBe("eventTypes");
    expect(fieldOfError("backoff.cap_ms: must be at least base_ms")).toEqual({ field: "capMs", message: "must be at least base_ms" });
    expect(fieldOfError("accounts[2].name: already used").field).toBe("name");
    expect(fieldOfError("ca_file: no such file").field).toBe("caFile");
  });

  it("leaves other messages for the top of the form", () => {
    expect(fieldOfError("the config file could not be written: disk full")).toEqual({ field: null, message: "the config file could not be written: disk full" });
    expect(fieldOfError("secret: nope").field).toBeNull();
    expect(fieldOfError("no colon at all").field).toBeNull();
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
