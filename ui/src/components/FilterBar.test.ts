import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import FilterBar from "./FilterBar.svelte";
import type { HistoryQuery } from "../lib/types";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

let onQuery: ReturnType<typeof vi.fn<(q: HistoryQuery) => void>>;
const last = (): HistoryQuery => onQuery.mock.calls[onQuery.mock.calls.length - 1]![0];

beforeEach(() => {
  vi.useFakeTimers({ now: new Date(2026, 4, 20, 12, 0, 0) });
  onQuery = vi.fn();
  render(FilterBar, { props: { accounts: ["work", "home"], onQuery } });
});

describe("FilterBar", () => {
  it("debounces typing into one query, ~200 ms after the last key", async () => {
    const search = screen.getByTestId("search");
    await fireEvent.input(search, { target: { value: "inv" } });
    vi.advanceTimersByTime(100);
    await fireEvent.input(search, { target: { value: "invoice" } });
    vi.advanceTimersByTime(150);
    expect(onQuery).not.toHaveBeenCalled();
    vi.advanceTimersByTime(60);
    expect(onQuery).toHaveBeenCalledTimes(1);
    expect(last()).toMatchObject({ text: "invoice", beforeId: null, limit: 100 });
  });

  it("clears the search with Escape, at once", async () => {
    const search = screen.getByTestId("search") as HTMLInputElement;
    await fireEvent.input(search, { target: { value: "invoice" } });
    vi.advanceTimersByTime(250);
    await fireEvent.keyDown(search, { key: "Escape" });
    expect(search.value).toBe("");
    expect(last().text).toBeNull();
  });

  it("focuses the search box with Ctrl+F and /", async () => {
    const search = screen.getByTestId("search");
    await fireEvent.keyDown(document.body, { key: "f", ctrlKey: true });
    expect(document.activeElement).toBe(search);
    search.blur();
    await fireEvent.keyDown(document.body, { key: "/" });
    expect(document.activeElement).toBe(search);
  });

  it("turns each filter into the query", async () => {
    await fireEvent.click(screen.getByTestId("tier-urgent"));
    expect(last().tiers).toEqual(["urgent"]);
    await fireEvent.click(screen.getByTestId("tier-high"));
    expect(last().tiers).toEqual(["urgent", "high"]);
    expect(screen.getByTestId("tier-high").getAttribute("aria-pressed")).toBe("true");

    await fireEvent.click(screen.getByTestId("filter-account"));
    await fireEvent.click(screen.getByLabelText("work"));
    expect(last().accounts).toEqual(["work"]);
    expect(screen.getByTestId("filter-account").textContent).toContain("Account: work");

    await fireEvent.click(screen.getByTestId("filter-provider"));
    await fireEvent.click(screen.getByLabelText("AgentMail"));
    expect(last().providers).toEqual(["agentmail"]);

    await fireEvent.click(screen.getByTestId("filter-kind"));
    await fireEvent.click(screen.getByLabelText("message bounced"));
    expect(last().kinds).toEqual(["message_bounced"]);

    await fireEvent.change(screen.getByTestId("filter-read"), { target: { value: "unread" } });
    expect(last().read).toBe(false);

    await fireEvent.change(screen.getByTestId("filter-time"), { target: { value: "week" } });
    expect(last().sinceMs).toBe(Date.now() - 7 * 24 * 3_600_000);

    await fireEvent.change(screen.getByTestId("filter-time"), { target: { value: "custom" } });
    await fireEvent.change(screen.getByTestId("filter-from"), { target: { value: "2026-05-01" } });
    await fireEvent.change(screen.getByTestId("filter-to"), { target: { value: "2026-05-02" } });
    expect(last()).toEqual({
      text: null,
      accounts: ["work"],
      providers: ["agentmail"],
      kinds: ["message_bounced"],
      tiers: ["urgent", "high"],
      read: false,
      sinceMs: new Date(2026, 4, 1).getTime(),
      untilMs: new Date(2026, 4, 3).getTime(),
      beforeId: null,
      limit: 100,
    });

    await fireEvent.click(screen.getByTestId("filter-clear"));
    expect(last()).toMatchObject({ accounts: [], providers: [], kinds: [], tiers: [], read: null, sinceMs: null, untilMs: null });
  });

  it("sends a pending search along with a filter change", async () => {
    await fireEvent.input(screen.getByTestId("search"), { target: { value: "late" } });
    await fireEvent.click(screen.getByTestId("tier-low"));
    expect(onQuery).toHaveBeenCalledTimes(1);
    expect(last()).toMatchObject({ text: "late", tiers: ["low"] });
    vi.advanceTimersByTime(500);
    expect(onQuery).toHaveBeenCalledTimes(1);
  });
});
