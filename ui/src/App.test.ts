import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { HistoryItem, LinkState } from "./lib/types";
import type { Snapshot } from "./lib/types";

const handlers: {
  history?: (i: HistoryItem) => void;
  status?: (s: Snapshot) => void;
  focus?: (id: number) => void;
  link?: (s: LinkState) => void;
} = {};

vi.mock("./lib/ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("./lib/ipc")>();
  return {
    ...real,
    historyQuery: vi.fn(),
    status: vi.fn(),
    rulesGet: vi.fn(),
    accountsList: vi.fn(),
    setPaused: vi.fn(),
    takeFocus: vi.fn(async () => null),
    onFocus: vi.fn(async (h: (id: number) => void) => {
      handlers.focus = h;
      return () => {};
    }),
    onHistory: vi.fn(async (h: (i: HistoryItem) => void) => {
      handlers.history = h;
      return () => {};
    }),
    onStatus: vi.fn(async (h: (s: Snapshot) => void) => {
      handlers.status = h;
      return () => {};
    }),
    linkState: vi.fn(),
    onLink: vi.fn(async (h: (s: LinkState) => void) => {
      handlers.link = h;
      return () => {};
    }),
  };
});

import * as ipc from "./lib/ipc";
import App from "./App.svelte";
import { fakeViewport, item, items, page, snapshot as snapshotFixture } from "./test/fixtures";


const snapshot: Snapshot = snapshotFixture();

const rows = () => screen.queryAllByTestId("event-row");
const CONNECTED: LinkState = { connected: true, error: null, retrying: false };
const STOPPED: LinkState = {
  connected: false,
  error: { code: "not_running", message: "Tocsin stopped; this window reconnects when it is back" },
  retrying: true,
};
const notRunning = { code: "not_running", message: "Tocsin is not running: start it from your applications or with `tocsin`; this window reconnects by itself" };

beforeEach(() => {
  vi.mocked(ipc.historyQuery).mockReset();
  vi.mocked(ipc.setPaused).mockReset();
  vi.mocked(ipc.status).mockReset();
  vi.mocked(ipc.status).mockResolvedValue(snapshot);
  vi.mocked(ipc.linkState).mockResolvedValue(CONNECTED);
  vi.mocked(ipc.historyQuery).mockResolvedValue(page([item(3, { tier: "urgent" }), item(2), item(1)]));
  vi.mocked(ipc.setPaused).mockImplementation(async (paused) => ({ ...snapshot, paused }));
});
afterEach(() => cleanup());

describe("App", () => {
  it("opens on a welcome card while only the demo runs: add the first account, or watch the demo", async () => {
    vi.mocked(ipc.accountsList).mockResolvedValue([]);
    render(App);
    await waitFor(() => expect(screen.getByTestId("welcome")).toBeTruthy());
    expect(screen.getByTestId("welcome-demo-note").textContent).toContain("This is a demo.");
    await waitFor(() => expect(rows()).toHaveLength(3)); // the demo's events show below it
    await fireEvent.click(screen.getByTestId("welcome-watch-demo"));
    await waitFor(() => expect(screen.queryByTestId("welcome")).toBeNull());
    cleanup();

    render(App);
    await waitFor(() => expect(screen.getByTestId("welcome")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("welcome-add-account"));
    await waitFor(() => expect(screen.getByTestId("account-form")).toBeTruthy());
    expect(screen.queryByTestId("welcome")).toBeNull();
  });

  it("shows no welcome card once an account is configured", async () => {
    vi.mocked(ipc.status).mockResolvedValue({ ...snapshot, demo: false });
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(screen.queryByTestId("welcome")).toBeNull();
  });

  it("lists stored events newest first and shows status", async () => {
    render(App);
    await waitFor(() => expect(screen.getByTestId("app").dataset.ready).toBe("true"));
    await waitFor(() => expect(rows().map((r) => r.dataset.id)).toEqual(["3", "2", "1"]));
    expect(rows()[0]!.dataset.tier).toBe("urgent");
    expect(screen.getByTestId("unread-urgent").textContent).toContain("1");
    const chip = screen.getByTestId("account-status");
    expect(chip.dataset.state).toBe("subscribed");
    expect(chip.textContent).toContain("Connected");
    expect(ipc.historyQuery).toHaveBeenCalledWith(expect.objectContaining({ text: null, beforeId: null, limit: 100, accounts: [] }));
  });

  it("prepends live events and ignores a duplicate id", async () => {
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    handlers.history!(item(4, { subject: "fresh" }));
    await waitFor(() => expect(rows()).toHaveLength(4));
    expect(rows()[0]!.dataset.id).toBe("4");
    handlers.history!(item(4, { subject: "fresh again" }));
    await new Promise((r) => setTimeout(r, 20));
    expect(rows()).toHaveLength(4);
  });

  it("shows state changes in words", async () => {
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    handlers.status!({
      ...snapshot,
      accounts: [{ ...snapshot.accounts[0]!, state: { state: "reconnecting", attempt: 2, delayMs: 2000 } }],
    });
    await waitFor(() => expect(screen.getByTestId("account-status").textContent).toContain("Reconnecting (attempt 2, in 2 s)"));
    handlers.status!({
      ...snapshot,
      accounts: [{ ...snapshot.accounts[0]!, state: { state: "closed", reason: "the server rejected the API key", fatal: true } }],
    });
    await waitFor(() => expect(screen.getByTestId("account-status").textContent).toContain("Stopped: the server rejected the API key"));
  });

  it("selects the event a notification opened", async () => {
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    handlers.focus!(2);
    await waitFor(() => expect(rows().find((r) => r.dataset.id === "2")!.getAttribute("aria-selected")).toBe("true"));
  });

  it("pauses notifications", async () => {
    render(App);
    await waitFor(() => expect(screen.getByTestId("pause-toggle")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("pause-toggle"));
    expect(ipc.setPaused).toHaveBeenCalledWith(true);
    await waitFor(() => expect(screen.getByTestId("pause-toggle").textContent).toContain("Resume"));
    expect(screen.getByTestId("pause-toggle").getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByTestId("paused").textContent).toBe("Notifications paused");
    await fireEvent.click(screen.getByTestId("pause-toggle"));
    expect(ipc.setPaused).toHaveBeenLastCalledWith(false);
    await waitFor(() => expect(screen.getByTestId("pause-toggle").textContent).toContain("Pause"));
    expect(screen.queryByTestId("paused")).toBeNull();
  });

  it("pages in older events when scrolled near the end", async () => {
    vi.mocked(ipc.historyQuery).mockResolvedValueOnce(page(items(100, 250))).mockResolvedValueOnce(page(items(50, 150)));
    render(App);
    await waitFor(() => expect(rows().length).toBeGreaterThan(0));
    const list = screen.getByTestId("event-list");
    fakeViewport(list, 580).scrollTo(90 * 58);
    await waitFor(() => expect(ipc.historyQuery).toHaveBeenLastCalledWith(expect.objectContaining({ beforeId: 151, limit: 100 })));
    await waitFor(() => expect(screen.getByText("That is everything in the history.")).toBeTruthy());
    // The older page is below the first: scrolling to the end shows the oldest event.
    fireEvent.keyDown(list, { key: "End" });
    await waitFor(() => expect(rows()[rows().length - 1]!.dataset.id).toBe("101"));
    expect(ipc.historyQuery).toHaveBeenCalledTimes(2);
  });

  it("shows an error when paging fails, and keeps the list", async () => {
    vi.mocked(ipc.historyQuery)
      .mockResolvedValueOnce(page(items(100)))
      .mockRejectedValueOnce({ code: "store_unavailable", message: "database is locked" });
    render(App);
    await waitFor(() => expect(rows().length).toBeGreaterThan(0));
    fakeViewport(screen.getByTestId("event-list"), 580).scrollTo(95 * 58);
    await waitFor(() => expect(screen.getByTestId("error").textContent).toContain("database is locked"));
    expect(rows().map((r) => r.dataset.id)).toContain("5");
  });

  it("renders hostile subjects as text", async () => {
    const payload = `<img src=x onerror="window.__pwned=1">`;
    vi.mocked(ipc.historyQuery).mockResolvedValue(
      page([item(1, { subject: payload, sender: "<script>x</script>", excerpt: "<b>not bold</b>", inbox: "<i>inbox</i>" })]),
    );
    vi.mocked(ipc.status).mockResolvedValue({
      ...snapshot,
      accounts: [{ ...snapshot.accounts[0]!, account: "<img src=y onerror=alert(1)>", lastError: "<svg onload=alert(2)>" }],
    });
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(screen.getByTestId("event-subject").textContent).toBe(payload);
    expect(rows()[0]!.textContent).toContain("<b>not bold</b>");
    expect(rows()[0]!.textContent).toContain("<script>x</script>");
    expect(screen.getByTestId("account-status").textContent).toContain("<img src=y onerror=alert(1)>");
    expect(document.querySelector("svg, b, script, i")).toBeNull();
    expect(document.querySelector("img")).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("shows an IPC error in words", async () => {
    vi.mocked(ipc.historyQuery).mockRejectedValue({ code: "store_unavailable", message: "the history database failed: disk I/O error" });
    render(App);
    await waitFor(() => expect(screen.getByTestId("error").textContent).toContain("disk I/O error"));
  });

  it("says when the history is empty", async () => {
    vi.mocked(ipc.historyQuery).mockResolvedValue(page([]));
    render(App);
    await waitFor(() => expect(screen.getByTestId("empty").textContent).toContain("Waiting for events"));
  });

  it("merges live events only when they match the filters", async () => {
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    vi.mocked(ipc.historyQuery).mockResolvedValue(page([item(3, { tier: "urgent" })], 1));
    await fireEvent.click(screen.getByTestId("tier-urgent"));
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(ipc.historyQuery).toHaveBeenLastCalledWith(expect.objectContaining({ tiers: ["urgent"], beforeId: null }));
    expect(screen.getByTestId("result-count").textContent).toBe("1 result");
    handlers.history!(item(4, { tier: "normal" }));
    handlers.history!(item(5, { tier: "urgent" }));
    await waitFor(() => expect(rows().map((r) => r.dataset.id)).toEqual(["5", "3"]));
    expect(screen.getByTestId("result-count").textContent).toBe("2 results");
  });

  it("offers a refresh instead of merging live events into a text search", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      render(App);
      await waitFor(() => expect(rows()).toHaveLength(3));
      vi.mocked(ipc.historyQuery).mockResolvedValue(page([item(2, { matches: { subject: "\u0002report\u0003", sender: null, snippet: null } })], 10000, true));
      await fireEvent.input(screen.getByTestId("search"), { target: { value: "report" } });
      await vi.advanceTimersByTimeAsync(250);
      await waitFor(() => expect(rows()).toHaveLength(1));
      expect(screen.getByTestId("result-count").textContent).toMatch(/^10\s000\+ results$/);
      handlers.history!(item(9, { subject: "report again" }));
      await waitFor(() => expect(screen.getByTestId("live-refresh").textContent).toContain("1 new event"));
      expect(rows()).toHaveLength(1);
      vi.mocked(ipc.historyQuery).mockResolvedValue(page([item(9), item(2)], 2));
      await fireEvent.click(screen.getByTestId("live-refresh"));
      await waitFor(() => expect(rows()).toHaveLength(2));
      expect(ipc.historyQuery).toHaveBeenLastCalledWith(expect.objectContaining({ text: "report", beforeId: null }));
      expect(screen.queryByTestId("live-refresh")).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("shows a keychain banner", async () => {
    vi.mocked(ipc.status).mockResolvedValue({ ...snapshot, keychainError: "the Secret Service keychain is locked" });
    render(App);
    await waitFor(() => expect(screen.getByTestId("keychain-error").textContent).toContain("locked"));
  });

  it("says when Tocsin is not running, and loads everything once it is back", async () => {
    vi.mocked(ipc.linkState).mockResolvedValue(STOPPED);
    vi.mocked(ipc.status).mockRejectedValue(notRunning);
    vi.mocked(ipc.historyQuery).mockRejectedValue(notRunning);
    render(App);
    await waitFor(() => expect(screen.getByTestId("app").dataset.ready).toBe("true"));
    const banner = await screen.findByTestId("link-banner");
    expect(banner.textContent).toContain("Tocsin stopped; this window reconnects when it is back");
    expect(banner.classList.contains("warn")).toBe(true);
    expect(banner.getAttribute("role")).toBe("status");
    await waitFor(() => expect(ipc.historyQuery).toHaveBeenCalledTimes(1));
    // "Not running" is the link banner's to say, not the error banner's.
    expect(screen.queryByTestId("error")).toBeNull();

    vi.mocked(ipc.status).mockResolvedValue(snapshot);
    vi.mocked(ipc.historyQuery).mockResolvedValue(page([item(2), item(1)]));
    handlers.link!(CONNECTED);
    await waitFor(() => expect(screen.queryByTestId("link-banner")).toBeNull());
    await waitFor(() => expect(rows().map((r) => r.dataset.id)).toEqual(["2", "1"]));
    expect(screen.getByTestId("account-status").textContent).toContain("Connected");
    expect(ipc.status).toHaveBeenCalledTimes(2);
    expect(ipc.historyQuery).toHaveBeenLastCalledWith(expect.objectContaining({ beforeId: null }));
    expect(screen.queryByTestId("error")).toBeNull();
  });

  it("reloads the status and the history when a lost link comes back", async () => {
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(screen.queryByTestId("link-banner")).toBeNull();
    expect(ipc.status).toHaveBeenCalledTimes(1);
    expect(ipc.historyQuery).toHaveBeenCalledTimes(1);
    handlers.link!(STOPPED);
    await waitFor(() => expect(screen.getByTestId("link-banner").textContent).toContain("Tocsin stopped"));
    // The list stays while the link is down.
    expect(rows()).toHaveLength(3);
    vi.mocked(ipc.historyQuery).mockResolvedValue(page([item(4), item(3), item(2), item(1)]));
    vi.mocked(ipc.status).mockResolvedValue({ ...snapshot, unreadUrgent: 7 });
    handlers.link!(CONNECTED);
    await waitFor(() => expect(rows()).toHaveLength(4));
    await waitFor(() => expect(screen.getByTestId("unread-urgent").textContent).toContain("7"));
    expect(screen.queryByTestId("link-banner")).toBeNull();
    expect(ipc.status).toHaveBeenCalledTimes(2);
    expect(ipc.historyQuery).toHaveBeenCalledTimes(2);
    // Connected again (no change): nothing more is loaded.
    handlers.link!(CONNECTED);
    await new Promise((r) => setTimeout(r, 20));
    expect(ipc.historyQuery).toHaveBeenCalledTimes(2);
  });

  it("shows a link that will not come back by itself, or another version, as an error", async () => {
    const mismatch = "Tocsin 0.3.0 speaks control protocol 3; this window speaks 2: restart Tocsin";
    vi.mocked(ipc.linkState).mockResolvedValue({ connected: false, error: { code: "version_mismatch", message: mismatch }, retrying: true });
    render(App);
    const banner = await screen.findByTestId("link-banner");
    expect(banner.textContent?.trim()).toBe(mismatch);
    expect(banner.classList.contains("error")).toBe(true);
    expect(banner.classList.contains("warn")).toBe(false);
    handlers.link!({ connected: false, error: { code: "internal", field: "TOCSIN_RUNTIME_DIR", message: "no runtime directory" }, retrying: false });
    await waitFor(() => expect(screen.getByTestId("link-banner").textContent).toContain("no runtime directory"));
    expect(screen.getByTestId("link-banner").classList.contains("error")).toBe(true);
  });

  it("shows no banner while the first connection is under way", async () => {
    vi.mocked(ipc.linkState).mockResolvedValue({ connected: false, error: null, retrying: true });
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(screen.queryByTestId("link-banner")).toBeNull();
  });

  it("switches screens with the tabs, from the keyboard too", async () => {
    vi.mocked(ipc.rulesGet).mockResolvedValue("");
    vi.mocked(ipc.accountsList).mockResolvedValue([]);
    render(App);
    await waitFor(() => expect(rows()).toHaveLength(3));
    const history = screen.getByTestId("history-tab");
    expect(history.getAttribute("aria-selected")).toBe("true");
    expect(screen.getByRole("tablist")).toBeTruthy();
    await fireEvent.keyDown(history, { key: "ArrowRight" });
    expect(screen.getByTestId("accounts-tab").getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(screen.getByTestId("accounts-tab"));
    await waitFor(() => expect(screen.getByTestId("accounts-view")).toBeTruthy());
    expect(screen.getByTestId("history-view").closest("[hidden]")).not.toBeNull();
    await fireEvent.click(screen.getByTestId("rules-tab"));
    expect(screen.getByTestId("rules-view")).toBeTruthy();
    await fireEvent.keyDown(screen.getByTestId("rules-tab"), { key: "Home" });
    expect(screen.getByTestId("history-view").closest("[hidden]")).toBeNull();
    // The history kept its rows (it is hidden, not unmounted).
    expect(rows()).toHaveLength(3);
  });
});
