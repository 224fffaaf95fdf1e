import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import EventList from "./EventList.svelte";
import { fakeViewport, item, items } from "../test/fixtures";
import type { HistoryItem } from "../lib/types";

const ROW_H = 58;
const rows = () => screen.queryAllByTestId("event-row");
const ids = () => rows().map((r) => Number(r.dataset.id));
const selectedId = () => document.querySelector<HTMLElement>("[data-testid=event-row][aria-selected=true]")?.dataset.id;

function setup(list: HistoryItem[], over: Record<string, unknown> = {}) {
  const onNearEnd = vi.fn();
  const props = { items: list, ready: true, loadingOlder: false, exhausted: false, onNearEnd, ...over };
  const r = render(EventList, { props });
  const el = screen.getByTestId("event-list");
  const viewport = fakeViewport(el, 10 * ROW_H);
  return { ...r, el, viewport, onNearEnd, props };
}

afterEach(() => cleanup());

describe("EventList", () => {
  it("keeps the DOM bounded however long the history is", async () => {
    const { viewport } = setup(items(5000));
    viewport.scrollTo(0);
    await tick();
    expect(rows().length).toBeLessThanOrEqual(30);
    expect(ids()[0]).toBe(5000);
    // Scrolled to row 2000: that row is rendered, the top ones are not.
    viewport.scrollTo(2000 * ROW_H);
    await tick();
    expect(rows().length).toBeLessThanOrEqual(30);
    expect(ids()).toContain(5000 - 2000);
    expect(ids()).not.toContain(5000);
    // The padding stands in for the rows that are not rendered, so the scroll height is right.
    const ol = screen.getByTestId("event-list").querySelector("ol")!;
    const padTop = parseFloat(ol.style.paddingTop);
    const padBottom = parseFloat(ol.style.paddingBottom);
    expect(padTop + padBottom + rows().length * ROW_H).toBe(5000 * ROW_H);
    expect(padTop).toBe((5000 - ids()[0]!) * ROW_H);
  });

  it("asks for older events near the end, and not before", async () => {
    const { viewport, onNearEnd } = setup(items(200));
    viewport.scrollTo(20 * ROW_H);
    expect(onNearEnd).not.toHaveBeenCalled();
    viewport.scrollTo(180 * ROW_H);
    expect(onNearEnd).toHaveBeenCalledTimes(1);
  });

  it("does not ask for more once the history is exhausted", async () => {
    const { viewport, onNearEnd } = setup(items(50), { exhausted: true });
    viewport.scrollTo(40 * ROW_H);
    expect(onNearEnd).not.toHaveBeenCalled();
    expect(screen.getByText("That is everything in the history.")).toBeTruthy();
  });

  it("moves the selection with the arrow keys and keeps it in view", async () => {
    const { el } = setup(items(100));
    await fireEvent.keyDown(el, { key: "ArrowDown" });
    expect(selectedId()).toBe("100");
    await fireEvent.keyDown(el, { key: "ArrowDown" });
    await fireEvent.keyDown(el, { key: "ArrowDown" });
    expect(selectedId()).toBe("98");
    await fireEvent.keyDown(el, { key: "ArrowUp" });
    expect(selectedId()).toBe("99");
    expect(el.getAttribute("aria-activedescendant")).toBe("event-99");
    // End goes to the oldest loaded event, scrolled into view.
    await fireEvent.keyDown(el, { key: "End" });
    expect(el.scrollTop).toBe(100 * ROW_H - 10 * ROW_H);
    expect(selectedId()).toBe("1");
    await fireEvent.keyDown(el, { key: "Home" });
    expect(el.scrollTop).toBe(0);
    expect(selectedId()).toBe("100");
    await fireEvent.keyDown(el, { key: "ArrowUp" });
    expect(selectedId()).toBe("100");
  });

  it("takes arrow keys when nothing has focus", async () => {
    setup(items(10));
    await fireEvent.keyDown(document.body, { key: "ArrowDown" });
    expect(selectedId()).toBe("10");
    expect(document.activeElement).toBe(screen.getByTestId("event-list"));
  });

  it("selects a row on click", async () => {
    setup(items(10));
    await fireEvent.click(rows()[3]!);
    expect(selectedId()).toBe("7");
  });

  it("stays at the top for live events, and keeps a scrolled-down view still", async () => {
    const { el, viewport, rerender, props } = setup(items(100));
    await rerender({ ...props, items: [item(101), ...items(100)] });
    expect(el.scrollTop).toBe(0);
    expect(ids()[0]).toBe(101);
    // Scrolled down so that event 71 is the first row in view.
    viewport.scrollTo(30 * ROW_H);
    await tick();
    const grown = [item(103), item(102), item(101), ...items(100)];
    await rerender({ ...props, items: grown });
    // Two rows came in above: the view moved down by two rows, so event 71 is still first in view.
    expect(el.scrollTop).toBe(32 * ROW_H);
    expect(grown[el.scrollTop / ROW_H]!.id).toBe(71);
    expect(ids()).toContain(71);
    expect(screen.getByTestId("new-above").textContent).toContain("2 new events");
    await fireEvent.click(screen.getByTestId("new-above"));
    expect(el.scrollTop).toBe(0);
    expect(screen.queryByTestId("new-above")).toBeNull();
  });

  it("shows every field of a row as text", () => {
    setup([item(7, { tier: "high", kind: "message_bounced", subject: null, sender: null, excerpt: null, inbox: null, providerType: "message.bounced", replayed: true })]);
    const row = rows()[0]!;
    expect(row.dataset.tier).toBe("high");
    expect(row.dataset.kind).toBe("message_bounced");
    expect(row.textContent).toContain("High");
    expect(screen.getByTestId("event-subject").textContent).toBe("Delivery failed");
    expect(row.textContent).toContain("message.bounced");
    expect(row.textContent).toContain("replayed");
    expect(row.querySelector(".where")!.textContent).toBe("demo");
  });

  it("says it is loading before the first load, and waiting once it is empty", async () => {
    const { rerender, props } = setup([], { ready: false });
    expect(screen.queryByTestId("empty")).toBeNull();
    expect(screen.getByText("Loading history…")).toBeTruthy();
    await rerender({ ...props, ready: true });
    expect(screen.getByTestId("empty").textContent).toBe("Waiting for events…");
  });
});

describe("EventList with another query's results", () => {
  it("goes back to the top when resetKey changes, without counting new events", async () => {
    const { el, viewport, rerender, props } = setup(items(100));
    viewport.scrollTo(30 * ROW_H);
    await tick();
    await rerender({ ...props, items: [item(500), ...items(100)], resetKey: 1 });
    expect(el.scrollTop).toBe(0);
    expect(screen.queryByTestId("new-above")).toBeNull();
  });

  it("ignores window keys while hidden behind another screen", async () => {
    const { el } = setup(items(10));
    el.parentElement!.hidden = true;
    await fireEvent.keyDown(document.body, { key: "ArrowDown" });
    expect(selectedId()).toBeUndefined();
    el.parentElement!.hidden = false;
    await fireEvent.keyDown(document.body, { key: "ArrowDown" });
    expect(selectedId()).toBe("10");
  });
});
