// npm build: esbuild bundles the ESM entries into dist/ (shared core chunk, node:* left external),
// tsc writes the .d.ts files into dist/types. Run with `npm run build`.

import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: ["mod.ts", "cli.ts", "core/mod.ts", "runtimes/node.ts", "runtimes/bun.ts", "runtimes/deno.ts"],
  outdir: "dist",
  outbase: ".",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["node:*"],
  logLevel: "warning",
});
execFileSync("node_modules/.bin/tsc", ["-p", "tsconfig.json"], { stdio: "inherit" });
