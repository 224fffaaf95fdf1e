// A tiny static server for the built UI on 127.0.0.1 (a free port), sending the same
// Content-Security-Policy the Tauri app has (src-tauri/tauri.conf.json), so the tests
// see what the CSP would block.
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));
export const DIST = resolve(HERE, ".dist");
const TAURI_CONF = resolve(HERE, "../../src-tauri/tauri.conf.json");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
};

/** The app's CSP as one header value. */
export async function appCsp(): Promise<string> {
  const conf = JSON.parse(await readFile(TAURI_CONF, "utf8")) as { app: { security: { csp: Record<string, string> | string } } };
  const csp = conf.app.security.csp;
  return typeof csp === "string" ? csp : Object.entries(csp).map(([k, v]) => `${k} ${v}`).join("; ");
}

export async function serve(root = DIST): Promise<{ url: string; close: () => Promise<void> }> {
  const csp = await appCsp();
  const server: Server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      const file = normalize(join(root, path === "/" ? "index.html" : path));
      if (file !== root && !file.startsWith(root + sep)) throw new Error("outside the root");
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "content-security-policy": csp,
        "cache-control": "no-store",
      });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
