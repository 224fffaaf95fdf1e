import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { HistoryItem } from "./lib/bindings/HistoryItem";
import type { Snapshot } from "./lib/bindings/Snapshot";

const handlers: { history?: (i: HistoryItem) => void; status?: (s: Snapshot) => void; focus?: (id: number) => void } = {};

vi.mock("./lib/ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("./lib/ipc")>();
  return {
    ...real,
    historyList: vi.fn(),
    status: vi.fn(),
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
  };
});

import * as ipc from "./lib/ipc";
import App from "./App.svelte";
import { fakeViewport, item, items } from "./test/fixtures";


const snapshot: Snapshot = {
  accounts: [{ account: "demo", provider: "daimon", state: { state: "subscribed" }, lastError: null, eventsReceived: 3, transport: "websocket" }],
  unreadUrgent: 1,
  paused: false,
  pausedUntilMs: null,
  demo: true,
  storeError: null,
  notifierError: null,
};

const rows = () => screen.queryAllByTestId("event-row");

beforeEach(() => {
  vi.mocked(ipc.historyList).mockReset();
  vi.mocked(ipc.setPaused).mockReset();
  vi.mocked(ipc.status).mockResolvedValue(snapshot);
  vi.mocked(ipc.historyList).mockResolvedValue([item(3, { tier: "urgent" }), item(2), item(1)]);
  vi.mocked(ipc.setPaused).mockImplementation(async (paused) => ({ ...snapshot, paused }));
});
afterEach(() => cleanup());

describe("App", () => {
  it("lists stored events newest first and shows status", async () => {
    render(App);
    await waitFor(() => expect(screen.getByTestId("app").dataset.ready).toBe("true"));
    expect(rows().map((r) => r.dataset.id)).toEqual(["3", "2", "1"]);
    expect(rows()[0]!.dataset.tier).toBe("urgent");
    expect(screen.getByTestId("unread-urgent").textContent).toContain("1");
    const chip = screen.getByTestId("account-status");
    expect(chip.dataset.state).toBe("subscribed");
    expect(chip.textContent).toContain("Connected");
    expect(ipc.historyList).toHaveBeenCalledWith(100, null);
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
    vi.mocked(ipc.historyList).mockResolvedValueOnce(items(100, 250)).mockResolvedValueOnce(items(50, 150));
    render(App);
    await waitFor(() => expect(screen.getByTestId("app").dataset.ready).toBe("true"));
    const list = screen.getByTestId("event-list");
    fakeViewport(list, 580).scrollTo(90 * 58);
    await waitFor(() => expect(ipc.historyList).toHaveBeenLastCalledWith(100, 151));
    await waitFor(() => expect(screen.getByText("That is everything in the history.")).toBeTruthy());
    // The older page is below the first: scrolling to the end shows the oldest event.
    fireEvent.keyDown(list, { key: "End" });
    await waitFor(() => expect(rows()[rows().length - 1]!.dataset.id).toBe("101"));
    expect(ipc.historyList).toHaveBeenCalledTimes(2);
  });

  it("shows an error when paging fails, and keeps the list", async () => {
    vi.mocked(ipc.historyList)
      .mockResolvedValueOnce(items(100))
      .mockRejectedValueOnce({ code: "store_unavailable", message: "database is locked" });
    render(App);
    await waitFor(() => expect(rows().length).toBeGreaterThan(0));
    fakeViewport(screen.getByTestId("event-list"), 580).scrollTo(95 * 58);
    await waitFor(() => expect(screen.getByTestId("error").textContent).toContain("database is locked"));
    expect(rows().map((r) => r.dataset.id)).toContain("5");
  });

  it("renders hostile subjects as text", async () => {
    const payload = `<img src=x onerror="window.__pwned=1">`;
    vi.mocked(ipc.historyList).mockResolvedValue([
      item(1, { subject: payload, sender: "<script>x</script>", excerpt: "<b>not bold</b>", inbox: "<i>inbox</i>" }),
    ]);
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
    vi.mocked(ipc.historyList).mockRejectedValue({ code: "store_unavailable", message: "the history database failed: disk I/O error" });
    render(App);
    await waitFor(() => expect(screen.getByTestId("error").textContent).toContain("disk I/O error"));
  });

  it("says when the history is empty", async () => {
    vi.mocked(ipc.historyList).mockResolvedValue([]);
    render(App);
    await waitFor(() => expect(screen.getByTestId("empty").textContent).toContain("Waiting for events"));
  });
});
