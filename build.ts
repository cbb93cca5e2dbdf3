// npm build: esbuild bundles the library's ESM entries into dist/ (shared core chunk, node:* left
// external) and the CLI into one file of its own, tsc writes the .d.ts files into dist/types. Run
// with `npm run build`.

import { build, type BuildOptions } from "esbuild";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
const common: BuildOptions = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["node:*"],
  logLevel: "warning",
};
await build({
  ...common,
  entryPoints: ["mod.ts", "core/mod.ts", "runtimes/node.ts", "runtimes/bun.ts", "runtimes/deno.ts"],
  outdir: "dist",
  outbase: ".",
  splitting: true,
});
// One file: each module Node 24 resolves at start runs its JS path code, and over six files that
// made Maglev compile it, paging in 1.9 MiB of the node binary (idle RSS, bench/PROFILE.md).
await build({ ...common, entryPoints: ["cli.ts"], outfile: "dist/cli.js" });
execFileSync("node_modules/.bin/tsc", ["-p", "tsconfig.json"], { stdio: "inherit" });
