// The static import graph, read from the sources. On Bun and Deno every node:* module costs idle
// RSS (node:fs and node:net 4-6 MiB each, Deno's node:process 3 MiB; bench/RESULTS.md, idle table),
// so what the CLI loads there before the first request must reach none; node:* is loaded only on
// the paths that need it (fd 0, a stale socket file, --socket-mode). The core imports nothing at all.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Specifiers a file imports statically (`import type` and dynamic `import()` excluded). */
function staticImports(file: string): string[] {
  const source = fs.readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of source.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
    found.push(m[1]);
  }
  return found;
}

/** Every module reachable from `entries` by static imports: relative paths and bare specifiers. */
function graph(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    const rel = path.relative(ROOT, file);
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const spec of staticImports(file)) {
      if (spec.startsWith(".")) visit(path.resolve(path.dirname(file), spec));
      else seen.add(spec);
    }
  };
  for (const e of entries) visit(path.join(ROOT, e));
  return seen;
}

test("the import walk sees static imports and skips type-only and dynamic ones", () => {
  const dir = fs.mkdtempSync(path.join(ROOT, "test/.imports-"));
  try {
    fs.writeFileSync(
      path.join(dir, "a.ts"),
      [
        'import fs from "node:fs";',
        'import { x,\n  y } from "./b.ts";',
        'import type { T } from "node:net";',
        'export { z } from "node:path";',
        'const later = () => import("node:url");',
      ].join("\n"),
    );
    fs.writeFileSync(path.join(dir, "b.ts"), 'import "node:os";\nexport const x = 1, y = 2;');
    const seen = graph([path.relative(ROOT, path.join(dir, "a.ts"))]);
    assert.deepEqual([...seen].filter((s) => s.startsWith("node:")).sort(), ["node:fs", "node:os", "node:path"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("on Bun and Deno the CLI and serve() load no node:* module and not the Node adapter", () => {
  for (const entries of [["cli.ts"], ["mod.ts"], ["runtimes/bun.ts"], ["runtimes/deno.ts"]]) {
    const seen = [...graph(entries)];
    assert.deepEqual(seen.filter((s) => s.startsWith("node:") || s === "runtimes/node.ts"), [], `from ${entries}`);
  }
});

test("the core imports only core modules", () => {
  for (const file of fs.readdirSync(path.join(ROOT, "core"))) {
    const outside = [...graph([`core/${file}`])].filter((s) => !s.startsWith("core/"));
    assert.deepEqual(outside, [], `core/${file}`);
  }
});
