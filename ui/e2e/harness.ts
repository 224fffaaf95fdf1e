// Headless Chromium (Debian's /usr/bin/chromium, through playwright-core) on the built UI
// with the fake IPC of fake-ipc.js. Records page errors, console errors, dialogs, CSP
// violations and anything an XSS payload ran, for the tests to assert on.
import { chromium, type Browser, type Page } from "playwright-core";
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { serve } from "./server";

const HERE = fileURLToPath(new URL(".", import.meta.url));
export const SCREENSHOTS = resolve(HERE, "screenshots");
const FAKE_IPC = resolve(HERE, "fake-ipc.js");

/** Flags known to work on a headless Debian machine without network (../shared/HEADLESS.md). */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean) as string[];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error("Chromium is missing: install Debian's chromium (scripts/setup.sh --test) or set CHROMIUM_PATH");
  return found;
}

export type Session = {
  browser: Browser;
  url: string;
  /** Dialogs (alert, confirm, ...) any page opened. */
  dialogs: string[];
  /** Uncaught exceptions and console errors. */
  errors: string[];
  newPage: (opts?: { colorScheme?: "light" | "dark" }) => Promise<Page>;
  close: () => Promise<void>;
};

export async function start(): Promise<Session> {
  const server = await serve();
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: FLAGS });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const dialogs: string[] = [];
  const errors: string[] = [];
  const pages: Page[] = [];
  return {
    browser,
    url: server.url,
    dialogs,
    errors,
    async newPage({ colorScheme = "light" } = {}) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme, locale: "en-GB", timezoneId: "Europe/Berlin" });
      const page = await context.newPage();
      pages.push(page);
      page.on("dialog", (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        void d.dismiss();
      });
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() !== "error") return;
        // The message body's frame logs what its sandbox and CSP blocked: expected.
        const where = m.location().url;
        if (where.startsWith("about:srcdoc") || m.page()?.mainFrame() !== page.mainFrame()) return;
        // Broken images in the message body (relative to the app's URL) and the favicon.
        if (/Failed to load resource/.test(m.text()) && !where.includes("/assets/")) return;
        errors.push(`console: ${m.text()} (${where})`);
      });
      await page.addInitScript({ path: FAKE_IPC });
      await page.goto(server.url);
      await page.waitForSelector("[data-testid=app][data-ready=true]");
      await page.waitForSelector("[data-testid=event-row]");
      return page;
    },
    async close() {
      for (const p of pages) await p.context().close().catch(() => {});
      await browser.close();
      await server.close();
    },
  };
}

/** What the page's hooks recorded: payloads that ran, CSP violations. */
export async function hooks(page: Page): Promise<{ xss: string[]; csp: string[] }> {
  return page.evaluate(() => {
    const w = window as unknown as { __xss: string[]; __csp: string[] };
    return { xss: [...w.__xss], csp: [...w.__csp] };
  });
}

export async function shot(page: Page, name: string) {
  await page.waitForTimeout(300);
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`) });
}
