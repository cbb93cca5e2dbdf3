// Core internals for a script that a runtime runs on its own (test/fixtures/lazy-entry.ts): the
// package exports only its public surface. Node 20 cannot load TypeScript, so it gets a bundle.

import { execFileSync } from "node:child_process";
import path from "node:path";
import { ROOT, type Runtime, tmpDir } from "./workers.ts";

/** The path of `entry` (relative to the repository) that `rt` can import: the file, or for Node 20 a bundle of it. */
export function importable(rt: Runtime, entry: string): string {
  const file = path.join(ROOT, entry);
  if (rt.name !== "node20") return file;
  const out = path.join(tmpDir("fetchcgi-internals-"), path.basename(entry, ".ts") + ".js");
  execFileSync(path.join(ROOT, "node_modules/.bin/esbuild"), [
    file,
    "--bundle",
    "--platform=neutral",
    "--format=esm",
    `--outfile=${out}`,
    "--log-level=warning",
  ]);
  return out;
}
