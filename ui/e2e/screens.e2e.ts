// The Rules, Accounts and Settings screens in headless Chromium against the fake IPC.
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
  const h = await hooks(page);
  expect(h.xss).toEqual([]);
  expect(h.csp).toEqual([]);
  expect(s.dialogs).toEqual([]);
  expect(s.errors).toEqual([]);
});

type Call = { cmd: string; args: Record<string, unknown> };
const calls = (p: Page, cmd: string) =>
  p.evaluate((c) => (window as unknown as { __calls: Call[] }).__calls.filter((x) => x.cmd === c), cmd);
const fake = <T>(p: Page, key: "attention" | "rules" | "accounts") =>
  p.evaluate((k) => (window as unknown as { __fake: Record<string, unknown> }).__fake[k], key) as Promise<T>;
const card = (p: Page, name: string) => p.locator(`[data-testid=account-card][data-name="${name}"]`);

describe("rules", () => {
  it("edits, refuses a broken rule in words, saves, and tests on the selected event", async () => {
    page = await s.newPage();
    await page.locator("[data-testid=event-row]").first().click();
    await page.getByTestId("rules-tab").click();
    const editor = page.getByTestId("rules-editor");
    await expect.poll(() => editor.inputValue()).toContain('name = "Urgent subject"');
    await editor.fill('[[rules]]\nname = "Broken"\nwhen = { subject_regex = "(" }\nthen = { tier = "urgent" }\n');
    await page.getByTestId("rules-save").click();
    expect(await page.getByTestId("rules-error").textContent()).toContain("subject_regex: unclosed group");

    const good = '[[rules]]\nname = "Board mail"\nwhen = { subject_contains = ["board"] }\nthen = { tier = "urgent", notify = true }\n';
    await editor.fill(good);
    await page.getByTestId("rules-save").click();
    await page.getByTestId("rules-saved").waitFor();
    expect(await fake<string>(page, "rules")).toBe(good);
    await page.getByTestId("rules-test").click();
    expect(await page.getByTestId("rules-result").textContent()).toBe("Rule “Board mail”: urgent, notifies, sound alarm");
    expect((await calls(page, "rules_test"))[0]!.args).toEqual({ id: 300, toml: good });
    await shot(page, "rules");
  });
});

describe("accounts", () => {
  it("shows state, retry countdown, key status; demo accounts are read-only", async () => {
    page = await s.newPage();
    await page.getByTestId("accounts-tab").click();
    await expect.poll(() => page.getByTestId("account-card").count()).toBe(5);
    expect(await card(page, "work").getByTestId("key-status").textContent()).toContain("Key stored ••••7f3a");
    expect(await card(page, "work").getByTestId("account-connection").getAttribute("data-state")).toBe("subscribed");
    const retry = card(page, "mail").getByTestId("account-retry");
    const before = Number(/(\d+) s/.exec((await retry.textContent())!)![1]);
    expect(before).toBeGreaterThan(20);
    await expect.poll(async () => Number(/(\d+) s/.exec((await retry.textContent())!)![1]), { timeout: 4000 }).toBeLessThan(before);
    expect(await card(page, "chat").getByTestId("key-warning").textContent()).toContain("login keyring is locked");
    expect(await card(page, "chat").getByTestId("account-connection").textContent()).toContain("Stopped: 401 invalid API key");
    const demo = card(page, "demo");
    expect(await demo.textContent()).toContain("read-only");
    expect(await demo.getByTestId("account-edit").count()).toBe(0);
    expect(await demo.getByTestId("key-panel").count()).toBe(0);
  });

  it("adds an account, placing each refusal next to its field; stores a key showing only its last four", async () => {
    page = await s.newPage();
    await page.getByTestId("accounts-tab").click();
    await page.getByTestId("account-add").click();
    const form = page.getByTestId("account-form");
    await form.getByTestId("field-name").fill("alerts");
    await form.getByTestId("field-provider").selectOption("bivariant");
    await form.getByTestId("field-url").fill("https://eu1.api.bivariant.com/v1/ws");
    await form.getByTestId("field-topics").fill("alerts.>\ndeploys.*, builds.*");
    await form.getByTestId("field-caFile").fill("/etc/ssl/corp-ca.txt");
    await form.getByTestId("account-save").click();
    const urlError = form.getByTestId("error-url");
    expect(await urlError.textContent()).toContain("must start with wss://");
    expect(await form.getByTestId("field-url").getAttribute("aria-invalid")).toBe("true");
    expect(await form.getByTestId("field-url").evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.getByTestId("form-error").count()).toBe(0);

    await form.getByTestId("field-url").fill("wss://eu1.api.bivariant.com/v1/ws");
    expect(await urlError.count()).toBe(0);
    await form.getByTestId("account-save").click();
    expect(await form.getByTestId("error-caFile").textContent()).toContain("is not a PEM file");
    await form.getByTestId("field-caFile").fill("/etc/ssl/corp-ca.pem");
    await form.getByTestId("field-capMs").fill("10");
    await form.getByTestId("account-save").click();
    expect(await form.getByTestId("error-capMs").textContent()).toBe("must be at least base_ms");
    await form.getByTestId("field-capMs").fill("60000");
    await form.getByTestId("account-save").click();
    await form.waitFor({ state: "detached" });
    await card(page, "alerts").waitFor();
    const saved = (await fake<{ account: Record<string, unknown> }[]>(page, "accounts")).find((v) => v.account.name === "alerts")!;
    expect(saved.account).toMatchObject({
      provider: "bivariant",
      url: "wss://eu1.api.bivariant.com/v1/ws",
      topics: ["alerts.>", "deploys.*", "builds.*"],
      caFile: "/etc/ssl/corp-ca.pem",
      inboxes: [],
      backoff: { baseMs: 1000, capMs: 60000, maxAttempts: 0, stableAfterMs: 60000 },
    });

    // The key: typed, saved, cleared at once, never shown again but for its last four.
    const panel = card(page, "alerts").getByTestId("key-panel");
    expect(await panel.getByTestId("key-status").textContent()).toContain("No key stored");
    const secret = "bv_live_5ecr3t_a1b2c3d4e5_9z8y";
    await panel.getByTestId("key-input").fill(secret);
    expect(await panel.getByTestId("key-input").getAttribute("type")).toBe("password");
    await panel.getByTestId("key-save").click();
    await expect.poll(() => panel.getByTestId("key-status").textContent()).toContain("Key stored ••••9z8y");
    expect(await panel.getByTestId("key-input").inputValue()).toBe("");
    expect(await page.content()).not.toContain("5ecr3t");
    expect((await calls(page, "key_set")).map((c) => c.args)).toEqual([{ account: "alerts", keyLength: secret.length }]);
    await panel.getByTestId("key-test").click();
    expect(await panel.getByTestId("key-test-result").textContent()).toContain("Connected and authenticated");
  });

  it("edits an account (a taken name is refused next to the name) and removes one after confirming", async () => {
    page = await s.newPage();
    await page.getByTestId("accounts-tab").click();
    await card(page, "mail").getByTestId("account-edit").click();
    const form = page.getByTestId("account-form");
    expect(await form.getByTestId("field-authParam").inputValue()).toBe("api_key");
    await form.getByTestId("field-name").fill("work");
    await form.getByTestId("account-save").click();
    expect(await form.getByTestId("error-name").textContent()).toBe("an account named work already exists");
    await form.getByTestId("field-name").fill("mail");
    await form.getByTestId("field-inboxes").fill("support@agentmail.to, sales@agentmail.to");
    await form.getByTestId("account-save").click();
    await form.waitFor({ state: "detached" });
    expect(await page.getByTestId("accounts-notice").textContent()).toBe("Saved mail.");
    const mail = (await fake<{ account: Record<string, unknown> }[]>(page, "accounts")).find((v) => v.account.name === "mail")!;
    expect(mail.account.inboxes).toEqual(["support@agentmail.to", "sales@agentmail.to"]);
    expect(mail.account.authParam).toBe("api_key");
    expect((await calls(page, "account_save")).at(-1)!.args.originalName).toBe("mail");

    await card(page, "topics").getByTestId("account-remove").click();
    expect(await calls(page, "account_remove")).toEqual([]);
    await card(page, "topics").getByTestId("account-remove-confirm").click();
    await card(page, "topics").waitFor({ state: "detached" });
    expect((await calls(page, "account_remove")).map((c) => c.args)).toEqual([{ name: "topics" }]);
    await page.getByTestId("accounts-view").evaluate((el) => (el.scrollTop = 0));
    await shot(page, "accounts");

    // The form with refusals, for the record.
    await page.getByTestId("account-add").click();
    await page.getByTestId("field-name").fill("bad name");
    await page.getByTestId("field-url").fill("http://example.com");
    await page.getByTestId("account-save").click();
    await page.getByTestId("error-name").waitFor();
    await shot(page, "accounts-form");
  });
});

describe("settings", () => {
  it("edits quiet hours and the rest, round trip through attention_set", async () => {
    page = await s.newPage();
    await page.getByTestId("settings-tab").click();
    const windows = page.getByTestId("quiet-window");
    await expect.poll(() => windows.count()).toBe(1);
    const first = windows.nth(0);
    expect(await first.getByTestId("day-Mon").getAttribute("aria-pressed")).toBe("true");
    expect(await first.getByTestId("day-Sat").getAttribute("aria-pressed")).toBe("false");
    const save = page.getByTestId("attention-save");
    expect(await save.isDisabled()).toBe(true);

    await first.getByTestId("day-Sat").click();
    await first.getByTestId("quiet-end").fill("06:30");
    await page.getByTestId("quiet-add").click();
    const second = windows.nth(1);
    for (const d of ["Mon", "Tue", "Wed", "Thu", "Fri"]) await second.getByTestId(`day-${d}`).click();
    expect(await second.getByTestId("quiet-error").textContent()).toContain("at least one day");
    expect(await save.isDisabled()).toBe(true);
    await second.getByTestId("day-Sun").click();
    await second.getByTestId("quiet-start").fill("12:00");
    await second.getByTestId("quiet-end").fill("14:00");
    await page.getByTestId("quiet-min-tier").selectOption("high");
    await page.getByTestId("coalesce-max").fill("8");
    await page.getByTestId("sound").click();
    await save.click();
    await page.getByTestId("attention-saved").waitFor();
    expect(await fake(page, "attention")).toEqual({
      quiet_hours: [
        { days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"], start: "22:00", end: "06:30" },
        { days: ["Sun"], start: "12:00", end: "14:00" },
      ],
      quiet_min_tier: "high",
      coalesce_max: 8,
      coalesce_window_secs: 30,
      repeat_urgent_secs: 300,
      notifications_enabled: true,
      sound: false,
    });

    // A refusal naming a setting is shown next to it.
    await page.getByTestId("coalesce-max").fill("500");
    await save.click();
    expect(await page.getByTestId("error-coalesce_max").textContent()).toBe("must be 1 to 100");
    await page.getByTestId("attention-revert").click();
    expect(await page.getByTestId("coalesce-max").inputValue()).toBe("8");

    // Coming back to the screen shows what was saved (fetched again).
    await page.getByTestId("history-tab").click();
    await page.getByTestId("settings-tab").click();
    await expect.poll(() => windows.count()).toBe(2);
    expect(await windows.nth(0).getByTestId("quiet-end").inputValue()).toBe("06:30");
  });

  it("pauses and resumes, sets retention and start at login", async () => {
    page = await s.newPage();
    await page.getByTestId("settings-tab").click();
    const state = page.getByTestId("pause-state");
    expect(await state.textContent()).toBe("Notifications are on");
    await page.getByTestId("pause-hour").click();
    // An hour from now: today's time, or the weekday too when that crosses midnight.
    await expect.poll(() => state.textContent()).toMatch(/^Paused until (\p{L}+\.? )?\d\d:\d\d$/u);
    expect(await page.getByTestId("paused").textContent()).toMatch(/^Paused until/);
    await page.getByTestId("pause-forever").click();
    await expect.poll(() => state.textContent()).toBe("Notifications paused");
    await page.getByTestId("pause-resume").click();
    await expect.poll(() => state.textContent()).toBe("Notifications are on");
    expect((await calls(page, "pause")).map((c) => c.args.choice)).toEqual(["hour", "forever", "resume"]);

    expect(await page.getByTestId("max-age").inputValue()).toBe("180");
    await page.getByTestId("max-age").fill("30");
    await page.getByTestId("no-cap").uncheck();
    await page.getByTestId("max-events").fill("250000");
    await page.getByTestId("retention-save").click();
    await expect.poll(async () => (await calls(page, "retention_set")).map((c) => c.args.retention)).toEqual([{ maxAgeDays: 30, maxEvents: 250000 }]);
    await page.getByTestId("autostart").check();
    await expect.poll(async () => (await calls(page, "set_autostart")).map((c) => c.args.enabled)).toEqual([true]);

    await page.setViewportSize({ width: 1280, height: 1200 });
    await shot(page, "settings");
    await page.emulateMedia({ colorScheme: "dark" });
    await shot(page, "settings-dark");
  });
});
