// The History screen in headless Chromium: search with highlights, every filter, live
// events, paging, the detail pane, and an XSS corpus that must never run.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { hooks, shot, start, type Session } from "./harness";

let s: Session;
let page: Page;

beforeAll(async () => {
  s = await start();
});
afterAll(async () => {
  await s?.close();
});
afterEach(async () => {
  // Whatever a test did: no payload ran, nothing broke the CSP, no dialog, no error.
  const h = await hooks(page);
  expect(h.xss).toEqual([]);
  expect(h.csp).toEqual([]);
  expect(s.dialogs).toEqual([]);
  expect(s.errors).toEqual([]);
});

type Call = { cmd: string; args: Record<string, unknown> };
const calls = (p: Page, cmd: string) =>
  p.evaluate((c) => (window as unknown as { __calls: Call[] }).__calls.filter((x) => x.cmd === c), cmd);
const rows = (p: Page) => p.locator("[data-testid=event-row]");
const rowData = (p: Page, key: string) => rows(p).evaluateAll((els, k) => els.map((e) => (e as HTMLElement).dataset[k]!), key);
const resultCount = async (p: Page) => (await p.getByTestId("result-count").textContent())!.trim();
/** Waits out the search debounce, then until the newest query has been answered and rendered. */
async function settle(p: Page) {
  await p.waitForTimeout(260);
  await p.waitForSelector("[data-testid=history-view][data-searching=false]");
  await p.waitForTimeout(50);
}

describe("history", () => {
  it("shows a bounded window of rows and pages older events in with beforeId", async () => {
    page = await s.newPage();
    expect(await rows(page).count()).toBeLessThan(40);
    const first = await calls(page, "history_query");
    expect(first[0]!.args.query).toMatchObject({ text: null, beforeId: null, limit: 100 });
    const list = page.getByTestId("event-list");
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.waitForFunction(() => (window as unknown as { __calls: Call[] }).__calls.some((c) => c.cmd === "history_query" && (c.args.query as { beforeId: number | null }).beforeId !== null));
    const paged = (await calls(page, "history_query")).find((c) => (c.args.query as { beforeId: number | null }).beforeId !== null)!;
    expect((paged.args.query as { beforeId: number }).beforeId).toBe(201);
    // Still a bounded DOM.
    expect(await rows(page).count()).toBeLessThan(40);
    // Scrolling on reaches the oldest event (three pages of 100, then an empty one).
    const end = page.getByText("That is everything in the history.");
    for (let i = 0; i < 20 && !(await end.isVisible()); i++) {
      await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.waitForTimeout(150);
    }
    await end.waitFor();
    expect(await rows(page).last().getAttribute("data-id")).toBe("1");
    expect((await calls(page, "history_query")).map((c) => (c.args.query as { beforeId: number | null }).beforeId)).toEqual([null, 201, 101, 1]);
  });

  it("searches as you type (debounced) and highlights the matched words as text", async () => {
    page = await s.newPage();
    await page.keyboard.press("Control+f");
    const search = page.getByTestId("search");
    expect(await search.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.type("quarterly report", { delay: 25 });
    await page.getByTestId("result-count").waitFor();
    await settle(page);
    const texts = (await calls(page, "history_query")).map((c) => (c.args.query as { text: string | null }).text).filter((t) => t !== null);
    // Typing is debounced: far fewer queries than keys (one, unless the machine stalled), the last for the whole text.
    expect(texts.length).toBeLessThanOrEqual(4);
    expect(texts[texts.length - 1]).toBe("quarterly report");
    expect(await resultCount(page)).toMatch(/^\d+ results?$/);
    const marks = await rows(page).first().locator("[data-testid=event-subject] mark").allTextContents();
    expect(marks.map((m) => m.toLowerCase())).toEqual(["quarterly", "report"]);
    expect(await page.locator("[data-testid=event-list] mark").count()).toBeGreaterThan(2);

    // Subjects, senders and snippets carrying markup are found, marked, and stay text.
    await search.fill("report");
    await settle(page);
    const hostile = rows(page).filter({ hasText: "<img src=x onerror" });
    await hostile.first().waitFor();
    expect(await page.locator("[data-testid=event-list] img, [data-testid=event-list] script, [data-testid=event-list] svg, [data-testid=event-list] iframe").count()).toBe(0);
    const subjects = await page.locator("[data-testid=event-subject]").allTextContents();
    expect(subjects.some((t) => t.includes("<script>window.top.__xss.push('script')</script>") || t.includes("<img src=x onerror"))).toBe(true);

    // Escape clears the search; "/" focuses it again.
    await search.press("Escape");
    expect(await search.inputValue()).toBe("");
    await settle(page);
    await expect.poll(() => page.getByTestId("result-count").count()).toBe(0);
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("/");
    expect(await search.evaluate((el) => el === document.activeElement)).toBe(true);
  });

  it("filters by tier, account, provider, kind, read state and time", async () => {
    page = await s.newPage();
    const lastQuery = async () => {
      const q = await calls(page, "history_query");
      return q[q.length - 1]!.args.query as Record<string, unknown>;
    };

    await page.getByTestId("tier-urgent").click();
    await settle(page);
    expect((await lastQuery()).tiers).toEqual(["urgent"]);
    expect(new Set(await rowData(page, "tier"))).toEqual(new Set(["urgent"]));
    expect(await resultCount(page)).toBe("30 results");
    await page.getByTestId("tier-urgent").click();

    await page.getByTestId("filter-account").click();
    await page.getByTestId("filter-account-menu").getByLabel("mail").check();
    await page.keyboard.press("Escape");
    await settle(page);
    expect((await lastQuery()).accounts).toEqual(["mail"]);
    expect(new Set(await page.locator("[data-testid=event-row] .where").allTextContents())).toEqual(new Set(["mail · support@agentmail.to"]));
    expect(await resultCount(page)).toBe("75 results");
    await page.getByTestId("filter-clear").click();
    await settle(page);

    await page.getByTestId("filter-provider").click();
    await page.getByTestId("filter-provider-menu").getByLabel("Bivariant").check();
    await page.keyboard.press("Escape");
    await settle(page);
    expect((await lastQuery()).providers).toEqual(["bivariant"]);
    expect(new Set(await page.locator("[data-testid=event-row] .where").allTextContents())).toEqual(new Set(["topics"]));
    await page.getByTestId("filter-clear").click();
    await settle(page);

    await page.getByTestId("filter-kind").click();
    await page.getByTestId("filter-kind-menu").getByLabel("message bounced").check();
    await page.keyboard.press("Escape");
    await settle(page);
    expect((await lastQuery()).kinds).toEqual(["message_bounced"]);
    expect(new Set(await rowData(page, "kind"))).toEqual(new Set(["message_bounced"]));
    await page.getByTestId("filter-clear").click();
    await settle(page);

    await page.getByTestId("filter-read").selectOption("unread");
    await settle(page);
    expect((await lastQuery()).read).toBe(false);
    expect(await rows(page).evaluateAll((els) => els.every((e) => e.classList.contains("unread")))).toBe(true);
    // Every third event is read, except the newest.
    expect(await resultCount(page)).toBe("201 results");
    await page.getByTestId("filter-read").selectOption("read");
    await settle(page);
    expect(await rows(page).evaluateAll((els) => els.every((e) => !e.classList.contains("unread")))).toBe(true);
    await page.getByTestId("filter-read").selectOption("all");
    await settle(page);

    // Events are 7 minutes apart, the newest 30 s old: 9 in the last hour.
    await page.getByTestId("filter-time").selectOption("hour");
    await settle(page);
    const q = await lastQuery();
    expect(q.sinceMs).toBeGreaterThan(Date.now() - 3_600_000 - 60_000);
    expect(await resultCount(page)).toBe("9 results");
    await page.getByTestId("filter-time").selectOption("day");
    await settle(page);
    expect(await resultCount(page)).toBe("206 results");

    // A custom range in the past: nothing before the first event.
    await page.getByTestId("filter-time").selectOption("custom");
    await page.getByTestId("filter-to").fill("2020-01-31");
    await settle(page);
    expect((await lastQuery()).untilMs).toBe(await page.evaluate(() => new Date(2020, 1, 1).getTime()));
    expect(await resultCount(page)).toBe("No results");
    expect(await page.getByTestId("empty").textContent()).toBe("No events match.");
    await page.getByTestId("filter-from").fill("2020-01-01");
    await page.getByTestId("filter-to").fill(await page.evaluate(() => new Date().toLocaleDateString("sv")));
    await settle(page);
    expect(await resultCount(page)).toBe("300 results");
  });

  it("merges live events that match the filters, and offers a refresh during a text search", async () => {
    page = await s.newPage();
    await page.getByTestId("tier-urgent").click();
    await settle(page);
    await page.evaluate(() => (window as unknown as { __fake: { addLive: (o: object) => number } }).__fake.addLive({ tier: "normal", subject: "Live normal" }));
    await page.evaluate(() => (window as unknown as { __fake: { addLive: (o: object) => number } }).__fake.addLive({ tier: "urgent", subject: "Live urgent" }));
    await expect.poll(() => rows(page).first().locator("[data-testid=event-subject]").textContent()).toBe("Live urgent");
    expect(await page.getByText("Live normal").count()).toBe(0);
    expect(await resultCount(page)).toBe("31 results");

    await page.getByTestId("search").fill("Live");
    await settle(page);
    expect(await resultCount(page)).toBe("1 result");
    await page.evaluate(() => (window as unknown as { __fake: { addLive: (o: object) => number } }).__fake.addLive({ tier: "urgent", subject: "Live again" }));
    await page.getByTestId("live-refresh").waitFor();
    expect(await page.getByTestId("live-refresh").textContent()).toContain("1 new event");
    expect(await page.getByText("Live again").count()).toBe(0);
    await page.getByTestId("live-refresh").click();
    await settle(page);
    expect(await resultCount(page)).toBe("2 results");
    expect(await page.getByTestId("live-refresh").count()).toBe(0);
  });

  it("shows the detail pane: sandboxed HTML, remote images on request, read state, raw JSON, keyboard", async () => {
    page = await s.newPage();
    // Keyboard: j selects the newest, Enter opens it.
    await page.getByTestId("event-list").focus();
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    const detail = page.getByTestId("detail");
    await detail.waitFor();
    expect(await page.getByTestId("detail-subject").textContent()).toBe("Quarterly report: numbers for the board review");
    const frame = page.getByTestId("detail-html");
    expect(await frame.getAttribute("sandbox")).toBe("");
    expect(await frame.getAttribute("referrerpolicy")).toBe("no-referrer");
    expect(await frame.getAttribute("srcdoc")).toContain("<h1>Quarterly report");
    expect(await page.getByTestId("detail-headers").textContent()).toContain("ops@example.com");
    expect(await page.getByTestId("detail-attachments").textContent()).toContain("243 KB");

    // The frame renders (the CSP lets a srcdoc frame through) and its payloads stay dead.
    const body = page.frameLocator("[data-testid=detail-html]");
    await body.getByText("This body carries live XSS payloads").waitFor();
    await body.locator("#jslink").click();
    await body.locator("#go").click();
    await page.waitForTimeout(400);

    // Remote images: blocked until asked, for this event only.
    expect(await page.getByTestId("remote-images").textContent()).toContain("2 remote images blocked");
    await page.getByTestId("load-images").click();
    await page.getByTestId("remote-images").waitFor({ state: "detached" });
    const detailCalls = await calls(page, "history_detail");
    expect(detailCalls[detailCalls.length - 1]!.args).toEqual({ id: 300, allowRemoteImages: true });
    expect(await frame.getAttribute("srcdoc")).toContain("data:image/svg+xml");

    // Read state: the button and `u`.
    await page.getByTestId("toggle-read").click();
    await expect.poll(() => page.getByTestId("toggle-read").textContent()).toContain("Mark unread");
    expect((await calls(page, "set_read")).map((c) => c.args)).toEqual([{ id: 300, read: true }]);
    await page.getByTestId("event-list").focus();
    await page.keyboard.press("u");
    await expect.poll(() => page.getByTestId("toggle-read").textContent()).toContain("Mark read");
    expect((await calls(page, "set_read")).map((c) => c.args)).toEqual([
      { id: 300, read: true },
      { id: 300, read: false },
    ]);
    await page.getByTestId("open-external").click();
    await expect.poll(async () => (await calls(page, "open_external")).map((c) => c.args)).toEqual([{ id: 300 }]);

    // Text view; raw JSON.
    await page.getByTestId("body-text").click();
    expect(await page.getByTestId("detail-text").textContent()).toContain("Revenue: 1.2 M");
    await page.getByText("Raw event (JSON)").click();
    expect(await page.getByTestId("detail-raw").textContent()).toContain('"id": "msg_300"');
    await page.getByTestId("body-html").click();
    await page.getByTestId("event-list").focus();
    // Remote images are blocked again on the next event.
    await page.keyboard.press("j");
    await expect.poll(() => detail.getAttribute("data-id")).toBe("299");
    await page.keyboard.press("k");
    await expect.poll(() => detail.getAttribute("data-id")).toBe("300");
    await page.getByTestId("remote-images").waitFor();
    await shot(page, "history");

    await page.emulateMedia({ colorScheme: "dark" });
    await shot(page, "history-dark");
    await page.emulateMedia({ colorScheme: "light" });

    await page.keyboard.press("Escape");
    await detail.waitFor({ state: "detached" });
  });

  it("says when the link to Tocsin is lost, and reloads the status and the list when it is back", async () => {
    page = await s.newPage();
    const setLink = (state: object) => page.evaluate((st) => (window as unknown as { __fake: { setLink: (x: object) => void } }).__fake.setLink(st), state);
    expect(await page.getByTestId("link-banner").count()).toBe(0);
    const queries = (await calls(page, "history_query")).length;
    const statuses = (await calls(page, "status")).length;
    await setLink({ connected: false, error: { code: "not_running", message: "Tocsin stopped; this window reconnects when it is back" }, retrying: true });
    const banner = page.getByTestId("link-banner");
    await banner.waitFor();
    expect((await banner.textContent())!.trim()).toBe("Tocsin stopped; this window reconnects when it is back");
    expect(await banner.getAttribute("class")).toContain("warn");
    expect(await page.getByTestId("error").count()).toBe(0);
    await setLink({ connected: false, error: { code: "version_mismatch", message: "Tocsin speaks control protocol 3; this window speaks 2" }, retrying: true });
    await page.waitForFunction(() => document.querySelector("[data-testid=link-banner]")?.classList.contains("error"));
    await setLink({ connected: true, error: null, retrying: false });
    await banner.waitFor({ state: "detached" });
    await page.waitForFunction(([q, st]) => {
      const c = (window as unknown as { __calls: Call[] }).__calls;
      return c.filter((x) => x.cmd === "history_query").length > q && c.filter((x) => x.cmd === "status").length > st;
    }, [queries, statuses] as const);
    const last = (await calls(page, "history_query")).at(-1)!;
    expect((last.args.query as { beforeId: number | null }).beforeId).toBeNull();
    await settle(page);
    expect(await rows(page).first().getAttribute("data-id")).toBe("300");
  });

  it("never runs the XSS corpus, in the list or in any message body", async () => {
    page = await s.newPage();
    // Every hostile event (every 15th but the newest) carries the whole corpus in its body: this finds all 19.
    await page.getByTestId("search").fill("onerror");
    await settle(page);
    expect(await resultCount(page)).toBe("19 results");
    await page.getByTestId("event-list").focus();
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    for (let i = 0; i < 19; i++) {
      const id = await page.locator("[data-testid=event-row][aria-selected=true]").getAttribute("data-id");
      await page.waitForFunction((want) => document.querySelector("[data-testid=detail]")?.getAttribute("data-id") === want, id);
      await page.waitForSelector("[data-testid=detail-subject]");
      const frame = page.getByTestId("detail-html");
      if (await frame.count()) expect(await frame.getAttribute("sandbox")).toBe("");
      await page.getByTestId("event-list").focus();
      await page.keyboard.press("j");
    }
    await page.waitForTimeout(500);
    expect(new Set((await calls(page, "history_detail")).map((c) => c.args.id)).size).toBe(19);
    expect(await page.locator("[data-testid=detail] img, [data-testid=detail] script, [data-testid=detail] svg, [data-testid=event-list] img, [data-testid=event-list] script").count()).toBe(0);
    // The text view shows the payloads as text.
    await page.getByTestId("body-text").click();
    expect(await page.getByTestId("detail-text").textContent()).toContain("<script>window.top.__xss.push('script')</script>");
  });
});
