import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/svelte";
import AccountStrip from "./AccountStrip.svelte";
import { account, snapshot } from "../test/fixtures";
import type { ConnState } from "../lib/types";

afterEach(() => cleanup());

const cases: [ConnState, string][] = [
  [{ state: "connecting" }, "Connecting…"],
  [{ state: "authenticating" }, "Signing in…"],
  [{ state: "open" }, "Connected"],
  [{ state: "subscribed" }, "Connected"],
  [{ state: "reconnecting", attempt: 3, delayMs: 4000 }, "Reconnecting (attempt 3, in 4 s)"],
  [{ state: "closed", reason: "401 invalid API key", fatal: true }, "Stopped: 401 invalid API key"],
  [{ state: "closed", reason: "stopped", fatal: false }, "Stopped"],
];

describe("AccountStrip", () => {
  it.each(cases)("puts %j in words", (state, text) => {
    render(AccountStrip, { props: { snapshot: snapshot({ accounts: [account({ state })] }) } });
    const chip = screen.getByTestId("account-status");
    expect(chip.dataset.state).toBe(state.state);
    expect(screen.getByTestId("account-state-text").textContent).toBe(text);
    expect(chip.textContent).toContain("demo");
    expect(chip.textContent).toContain("daimon");
  });

  it("marks a fatal stop and shows the last error", () => {
    render(AccountStrip, {
      props: {
        snapshot: snapshot({
          accounts: [
            account({ account: "ops", state: { state: "closed", reason: "401 invalid API key", fatal: true }, lastError: "401 invalid API key" }),
            account({ account: "mail", provider: "agentmail", state: { state: "reconnecting", attempt: 1, delayMs: 500 }, lastError: "connection reset" }),
          ],
        }),
      },
    });
    const [ops, mail] = screen.getAllByTestId("account-status");
    expect(ops!.classList.contains("fatal")).toBe(true);
    // The reason is the error: said once.
    expect(ops!.querySelector("[data-testid=account-error]")).toBeNull();
    expect(mail!.querySelector("[data-testid=account-error]")!.textContent).toBe("Last error: connection reset");
    expect(mail!.textContent).toContain("Reconnecting (attempt 1, in 1 s)");
  });

  it("says when no account is configured", () => {
    render(AccountStrip, { props: { snapshot: snapshot({ accounts: [] }) } });
    expect(screen.queryByTestId("account-status")).toBeNull();
    expect(screen.getByText("No accounts configured.")).toBeTruthy();
  });
});
