// The public surface: what `fetchcgi` and `fetchcgi/core` export, named here so that a change to it is
// deliberate; each export with a doc comment and an example (read with `deno doc`), and every
// example type-checks against the sources (`deno check --doc-only`).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ROOT, tmpDir } from "../lib/workers.ts";

const DENO = path.join(ROOT, "node_modules/.bin/deno");

const SURFACE: Record<string, string[]> = {
  "mod.ts": [
    "App",
    "Context",
    "FetchHandler",
    "Logger",
    "LogLevel",
    "Params",
    "RemoteAddr",
    "Role",
    "RuntimeName",
    "runtime",
    "serve",
    "ServeOptions",
    "Server",
    "WorkerOptions",
  ],
  // What a custom transport needs: its Conn and Listener go to startServer(); the wire format stays inside.
  "core/mod.ts": [
    "Address",
    "App",
    "Channel",
    "Conn",
    "Context",
    "FetchHandler",
    "formatAddress",
    "Listener",
    "Logger",
    "LogLevel",
    "Params",
    "parseAddress",
    "RemoteAddr",
    "Role",
    "Server",
    "Source",
    "startServer",
    "WorkerOptions",
    "wrapGlobals",
  ],
};

interface DocNode {
  name: string;
  declarations: { jsDoc?: { doc?: string; tags?: { kind: string }[] } }[];
}

function documented(file: string): DocNode[] {
  const out = execFileSync(DENO, ["doc", "--json", file], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const nodes = (JSON.parse(out) as { nodes: Record<string, { symbols: DocNode[] }> }).nodes;
  return Object.values(nodes)[0].symbols;
}

const sorted = (names: string[]) => [...names].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));

for (const [file, names] of Object.entries(SURFACE)) {
  test(`${file} exports exactly its surface, each with a doc comment and an example`, () => {
    assert.doesNotMatch(fs.readFileSync(path.join(ROOT, file), "utf8"), /export \*/);
    const symbols = documented(file);
    assert.deepEqual(sorted(symbols.map((s) => s.name)), sorted(names));
    const missing = symbols.filter((s) =>
      !s.declarations.some((d) => d.jsDoc?.doc && d.jsDoc.tags?.some((t) => t.kind === "example"))
    );
    assert.deepEqual(missing.map((s) => s.name), [], "without a doc comment and an @example");
  });
}

test("every example in the public modules type-checks", () => {
  // As a user imports them; Deno's default noImplicitOverride is not this project's setting.
  const config = path.join(tmpDir(), "deno.json");
  fs.writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: { noImplicitOverride: false },
      imports: Object.fromEntries(
        [[".", "mod.ts"], ["./core", "core/mod.ts"], ["./bun", "runtimes/bun.ts"], ["./deno", "runtimes/deno.ts"]]
          .map(([entry, file]) => [`fetchcgi${entry.slice(1)}`, path.join(ROOT, file)]),
      ),
    }),
  );
  const files = [
    "mod.ts",
    "core/types.ts",
    "core/worker.ts",
    "core/channel.ts",
    "core/address.ts",
    "core/globals.ts",
    "runtimes/bun.ts",
    "runtimes/deno.ts",
  ];
  try {
    execFileSync(DENO, ["check", "--quiet", "--config", config, "--doc-only", ...files], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
  } catch (err) {
    assert.fail(`deno check --doc-only failed:\n${(err as { stderr?: string }).stderr}`);
  }
});
