import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Plain Vite (no SvelteKit). Output is embedded into the binary by tauri-build.
export default defineConfig({
  base: "./",
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.4x on Debian 12 and Safari 15+ elsewhere.
    target: ["es2021", "safari15"],
    // Keep CSS in files: the CSP allows no inline styles.
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
