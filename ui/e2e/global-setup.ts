// Builds the UI once (the production build, unchanged: the fake IPC is injected by the
// tests) into e2e/.dist, so that ui/dist (embedded in the app) is left alone.
import { build } from "vite";
import { fileURLToPath } from "node:url";
import { DIST } from "./server";

export default async function setup() {
  await build({
    root: fileURLToPath(new URL("..", import.meta.url)),
    configFile: fileURLToPath(new URL("../vite.config.ts", import.meta.url)),
    logLevel: "warn",
    build: { outDir: DIST, emptyOutDir: true },
  });
}
