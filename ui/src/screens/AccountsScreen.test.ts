import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";

vi.mock("../lib/ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("../lib/ipc")>();
  return {
    ...real,
    accountsList: vi.fn(),
    accountSave: vi.fn(),
    accountRemove: vi.fn(),
    keySet: vi.fn(),
    keyRemove: vi.fn(),
    keyTest: vi.fn(),
  };
});

import * as ipc from "../lib/ipc";
import AccountsScreen from "./AccountsScreen.svelte";
import { account, accountView, keyInfo, snapshot } from "../test/fixtures";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});
beforeEach(() => {
  for (const f of [ipc.accountsList, ipc.accountSave, ipc.accountRemove, ipc.keySet, ipc.keyRemove, ipc.keyTest]) vi.mocked(f).mockReset();
  vi.mocked(ipc.accountsList).mockResolvedValue([accountView("work"), accountView("demo", { demo: true })]);
});

const card = (name: string) => screen.getAllByTestId("account-card").find((c) => c.dataset.name === name)!;

describe("AccountsScreen", () => {
  it("lists accounts with live state, a ticking retry countdown, and key status", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true, now: 1_000_000 });
    const snap = snapshot({
      accounts: [account({ account: "work", state: { state: "reconnecting", attempt: 2, delayMs: 5000 }, lastError: "connection reset", nextRetryAtMs: 1_005_000 })],
    });
    render(AccountsScreen, { props: { snapshot: snap } });
    await waitFor(() => expect(screen.getAllByTestId("account-card")).toHaveLength(2));
    const work = card("work");
    expect(work.textContent).toContain("wss://ws.daimon.email/v1/stream");
    expect(within(work).getByTestId("account-connection").dataset.state).toBe("reconnecting");
    expect(within(work).getByTestId("account-retry").textContent).toBe("next retry in 5 s");
    expect(within(work).getByTestId("account-last-error").textContent).toContain("connection reset");
    expect(within(work).getByTestId("key-status").textContent).toContain("No key stored");
    await vi.advanceTimersByTimeAsync(2000);
    expect(within(card("work")).getByTestId("account-retry").textContent).toBe("next retry in 3 s");
    // Demo accounts are read-only.
    const demo = card("demo");
    expect(demo.textContent).toContain("read-only");
    expect(within(demo).queryByTestId("account-edit")).toBeNull();
    expect(within(demo).queryByTestId("account-remove")).toBeNull();
    expect(within(demo).queryByTestId("key-panel")).toBeNull();
  });

  it("shows a locked keychain as a warning", async () => {
    vi.mocked(ipc.accountsList).mockResolvedValue([accountView("work", { key: keyInfo({ state: "locked", message: "Unlock the login keyring to use stored keys." }) })]);
    render(AccountsScreen, { props: { snapshot: null } });
    const warning = await screen.findByTestId("key-warning");
    expect(warning.textContent).toBe("Unlock the login keyring to use stored keys.");
    expect(warning.getAttribute("role")).toBe("alert");
    expect(screen.getByTestId("key-status").textContent).toContain("Keychain locked");
  });

  it("places a refusal next to the field it names, else on top", async () => {
    render(AccountsScreen, { props: { snapshot: null } });
    await fireEvent.click(await screen.findByTestId("account-add"));
    const form = screen.getByTestId("account-form");
    await fireEvent.input(within(form).getByTestId("field-name"), { target: { value: "mail" } });
    await fireEvent.change(within(form).getByTestId("field-provider"), { target: { value: "agentmail" } });
    await fireEvent.input(within(form).getByTestId("field-url"), { target: { value: "http://nope" } });
    await fireEvent.input(within(form).getByTestId("field-inboxes"), { target: { value: "a@x.to, b@x.to\nc@x.to" } });
    vi.mocked(ipc.accountSave).mockRejectedValueOnce({ code: "invalid_argument", field: "url", message: "must start with wss:// or ws://" });
    await fireEvent.click(within(form).getByTestId("account-save"));
    expect(ipc.accountSave).toHaveBeenCalledWith(
      expect.objectContaining({ name: "mail", provider: "agentmail", url: "http://nope", inboxes: ["a@x.to", "b@x.to", "c@x.to"], authParam: null }),
      null,
    );
    const err = await screen.findByTestId("error-url");
    expect(err.textContent).toBe("must start with wss:// or ws://");
    expect(within(form).getByTestId("field-url").getAttribute("aria-invalid")).toBe("true");
    expect(within(form).getByTestId("field-url").getAttribute("aria-describedby")).toContain(err.id);
    expect(screen.queryByTestId("form-error")).toBeNull();

    vi.mocked(ipc.accountSave).mockRejectedValueOnce({ code: "invalid_argument", message: "config: the file changed on disk" });
    await fireEvent.click(within(form).getByTestId("account-save"));
    expect((await screen.findByTestId("form-error")).textContent).toBe("config: the file changed on disk");
    expect(screen.queryByTestId("error-url")).toBeNull();

    vi.mocked(ipc.accountSave).mockResolvedValueOnce([accountView("work"), accountView("mail")]);
    await fireEvent.input(within(form).getByTestId("field-url"), { target: { value: "wss://ws.agentmail.to/v0" } });
    await fireEvent.click(within(form).getByTestId("account-save"));
    await waitFor(() => expect(screen.queryByTestId("account-form")).toBeNull());
    expect(screen.getAllByTestId("account-card").map((c) => c.dataset.name)).toEqual(["work", "mail"]);
  });

  it("checks numbers before asking", async () => {
    render(AccountsScreen, { props: { snapshot: null } });
    await fireEvent.click(await screen.findByTestId("account-add"));
    await fireEvent.input(screen.getByTestId("field-capMs"), { target: { value: "" } });
    await fireEvent.click(screen.getByTestId("account-save"));
    expect(screen.getByTestId("error-capMs").textContent).toContain("whole number");
    expect(ipc.accountSave).not.toHaveBeenCalled();
  });

  it("edits an account under its original name", async () => {
    vi.mocked(ipc.accountSave).mockResolvedValue([accountView("work2")]);
    render(AccountsScreen, { props: { snapshot: null } });
    await waitFor(() => expect(screen.getAllByTestId("account-card")).toHaveLength(2));
    await fireEvent.click(within(card("work")).getByTestId("account-edit"));
    const name = screen.getByTestId("field-name") as HTMLInputElement;
    expect(name.value).toBe("work");
    expect((screen.getByTestId("field-inboxes") as HTMLTextAreaElement).value).toBe("inbox_ops");
    await fireEvent.input(name, { target: { value: "work2" } });
    await fireEvent.click(screen.getByTestId("account-save"));
    expect(ipc.accountSave).toHaveBeenCalledWith(expect.objectContaining({ name: "work2", inboxes: ["inbox_ops"] }), "work");
  });

  it("removes an account after confirmation", async () => {
    vi.mocked(ipc.accountRemove).mockResolvedValue([accountView("demo", { demo: true })]);
    render(AccountsScreen, { props: { snapshot: null } });
    await waitFor(() => expect(screen.getAllByTestId("account-card")).toHaveLength(2));
    await fireEvent.click(within(card("work")).getByTestId("account-remove"));
    expect(ipc.accountRemove).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId("account-remove-confirm"));
    expect(ipc.accountRemove).toHaveBeenCalledWith("work");
    await waitFor(() => expect(screen.getAllByTestId("account-card")).toHaveLength(1));
  });

  it("saves a key, clears the field at once, and shows only the last four", async () => {
    vi.mocked(ipc.keySet).mockResolvedValue(keyInfo({ state: "stored", last4: "c0de" }));
    render(AccountsScreen, { props: { snapshot: null } });
    await waitFor(() => expect(screen.getAllByTestId("account-card")).toHaveLength(2));
    const input = within(card("work")).getByTestId("key-input") as HTMLInputElement;
    expect(input.type).toBe("password");
    expect(input.getAttribute("autocomplete")).toBe("off");
    const save = within(card("work")).getByTestId("key-save") as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    const secret = "dm_live_supersecretkey_c0de";
    await fireEvent.input(input, { target: { value: secret } });
    await fireEvent.click(save);
    expect(ipc.keySet).toHaveBeenCalledWith("work", secret);
    await waitFor(() => expect(input.value).toBe(""));
    expect(within(card("work")).getByTestId("key-status").textContent).toContain("Key stored ••••c0de");
    expect(document.body.innerHTML).not.toContain("supersecret");
    expect(save.disabled).toBe(true);

    vi.mocked(ipc.keyTest).mockResolvedValue({ ok: false, message: "401: the key was refused" });
    await fireEvent.click(within(card("work")).getByTestId("key-test"));
    expect((await screen.findByTestId("key-test-result")).textContent).toContain("401: the key was refused");

    vi.mocked(ipc.keyRemove).mockResolvedValue(keyInfo({ state: "missing" }));
    await fireEvent.click(within(card("work")).getByTestId("key-remove"));
    await fireEvent.click(within(card("work")).getByTestId("key-remove-confirm"));
    expect(ipc.keyRemove).toHaveBeenCalledWith("work");
    await waitFor(() => expect(within(card("work")).getByTestId("key-status").textContent).toContain("No key stored"));
  });
});
