import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

vi.mock("../lib/ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("../lib/ipc")>();
  return {
    ...real,
    historyQuery: vi.fn(),
    historyDetail: vi.fn(),
    setRead: vi.fn(),
    takeFocus: vi.fn(async () => null),
    onHistory: vi.fn(async () => () => {}),
    onFocus: vi.fn(async () => () => {}),
  };
});

import * as ipc from "../lib/ipc";
import HistoryScreen from "./HistoryScreen.svelte";
import { detail, items, page } from "../test/fixtures";

afterEach(() => cleanup());
beforeEach(() => {
  vi.mocked(ipc.historyQuery).mockReset().mockResolvedValue(page(items(5)));
  vi.mocked(ipc.historyDetail).mockReset().mockImplementation(async (id) => detail(id, { item: items(5).find((i) => i.id === id)! }));
  vi.mocked(ipc.setRead).mockReset().mockResolvedValue(undefined);
});

const selectedRow = () => document.querySelector<HTMLElement>("[data-testid=event-row][aria-selected=true]");

function setup() {
  return render(HistoryScreen, { props: { accounts: ["demo"], active: true, onError: vi.fn(), onFocusRequest: vi.fn() } });
}

describe("HistoryScreen keyboard", () => {
  it("Enter opens the detail, j/k follow it, Escape closes it", async () => {
    setup();
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(5));
    const list = screen.getByTestId("event-list");
    await fireEvent.keyDown(list, { key: "j" });
    expect(selectedRow()!.dataset.id).toBe("5");
    expect(screen.queryByTestId("detail")).toBeNull();
    await fireEvent.keyDown(list, { key: "Enter" });
    await waitFor(() => expect(screen.getByTestId("detail").dataset.id).toBe("5"));
    await fireEvent.keyDown(list, { key: "j" });
    await waitFor(() => expect(ipc.historyDetail).toHaveBeenLastCalledWith(4, false));
    expect(screen.getByTestId("detail").dataset.id).toBe("4");
    await fireEvent.keyDown(list, { key: "Escape" });
    expect(screen.queryByTestId("detail")).toBeNull();
    // The selection stays after the pane closed; a second Escape clears it.
    expect(selectedRow()!.dataset.id).toBe("4");
    await fireEvent.keyDown(list, { key: "Escape" });
    expect(selectedRow()).toBeNull();
  });

  it("u toggles read on the selected event", async () => {
    setup();
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(5));
    const list = screen.getByTestId("event-list");
    await fireEvent.keyDown(list, { key: "j" });
    expect(selectedRow()!.classList.contains("unread")).toBe(true);
    await fireEvent.keyDown(list, { key: "u" });
    expect(ipc.setRead).toHaveBeenCalledWith(5, true);
    await waitFor(() => expect(selectedRow()!.classList.contains("unread")).toBe(false));
    // With the detail open, u goes through the pane, which updates both.
    await fireEvent.keyDown(list, { key: "j" });
    await fireEvent.keyDown(list, { key: "Enter" });
    await screen.findByTestId("detail-html");
    expect(screen.getByTestId("toggle-read").textContent).toContain("Mark read");
    await fireEvent.keyDown(list, { key: "u" });
    expect(ipc.setRead).toHaveBeenLastCalledWith(4, true);
    await waitFor(() => expect(screen.getByTestId("toggle-read").textContent).toContain("Mark unread"));
    expect(selectedRow()!.dataset.id).toBe("4");
    expect(selectedRow()!.classList.contains("unread")).toBe(false);
  });

  it("a click opens the detail", async () => {
    setup();
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(5));
    await fireEvent.click(screen.getAllByTestId("event-row")[2]!);
    await waitFor(() => expect(screen.getByTestId("detail").dataset.id).toBe("3"));
    await fireEvent.click(screen.getByTestId("detail-close"));
    expect(screen.queryByTestId("detail")).toBeNull();
  });
});

describe("HistoryScreen reload", () => {
  it("queries the list again, with the same filters, when reloadKey changes", async () => {
    const { rerender } = render(HistoryScreen, { props: { accounts: ["demo"], active: true, reloadKey: 0, onError: vi.fn(), onFocusRequest: vi.fn() } });
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(5));
    vi.mocked(ipc.historyQuery).mockResolvedValue(page([{ ...items(5)[0]!, id: 9 }]));
    await fireEvent.click(screen.getByTestId("tier-urgent"));
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(1));
    expect(ipc.historyQuery).toHaveBeenCalledTimes(2);
    vi.mocked(ipc.historyQuery).mockResolvedValue(page([{ ...items(5)[0]!, id: 10 }, { ...items(5)[0]!, id: 9 }]));
    await rerender({ reloadKey: 1 });
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(2));
    expect(ipc.historyQuery).toHaveBeenCalledTimes(3);
    expect(ipc.historyQuery).toHaveBeenLastCalledWith(expect.objectContaining({ tiers: ["urgent"], beforeId: null }));
    // The same key again: nothing.
    await rerender({ reloadKey: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(ipc.historyQuery).toHaveBeenCalledTimes(3);
  });
});
