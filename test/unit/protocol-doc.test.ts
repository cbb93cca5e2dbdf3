// docs/protocol.md is the catalogue the rule IDs in comments and test names point to (F12, G3, C6,
// S7, ranges like C1–C12): every ID cited in the code and the tests must have its row there, so a
// citation never points at notes outside the repository or at nothing.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CITED_IN = ["core", "runtimes", "cli.ts", "mod.ts", "test"];

function sources(entry: string): string[] {
  const full = path.join(ROOT, entry);
  if (!fs.statSync(full).isDirectory()) return [full];
  return fs.readdirSync(full, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.(ts|js)$/.test(f) && !f.split(path.sep).includes("node_modules"))
    .map((f) => path.join(full, f));
}

/** The rule IDs a text cites, ranges expanded: "C1–C12" is C1 to C12, "F41-F43" F41 to F43. */
export function citedIds(text: string): Set<string> {
  const ids = new Set<string>();
  for (const m of text.matchAll(/\b([FGCS])(\d{1,2})(?:[–-]\1?(\d{1,2}))?\b/g)) {
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    for (let n = from; n <= Math.max(from, to); n++) ids.add(m[1] + n);
  }
  return ids;
}

/** The IDs with a row in docs/protocol.md: lines starting `| ID |`. */
function documentedIds(): Set<string> {
  const doc = fs.readFileSync(path.join(ROOT, "docs/protocol.md"), "utf8");
  return new Set([...doc.matchAll(/^\| ([FGCS]\d{1,2}) \|/gm)].map((m) => m[1]));
}

test("citedIds finds single IDs and expands ranges", () => {
  assert.deepEqual(
    [...citedIds("(F15, G5) rules C1–C12; F41-F43; S1/S2")].sort(),
    [
      "C1",
      "C10",
      "C11",
      "C12",
      "C2",
      "C3",
      "C4",
      "C5",
      "C6",
      "C7",
      "C8",
      "C9",
      "F15",
      "F41",
      "F42",
      "F43",
      "G5",
      "S1",
      "S2",
    ].sort(),
  );
  assert.equal(citedIds("F1x, a CF12, 2F3").size, 0);
});

test("every rule ID cited in core/, runtimes/, cli.ts and test/ has its row in docs/protocol.md", () => {
  const documented = documentedIds();
  assert.ok(documented.has("F12") && documented.has("S8"), "the catalogue's rows were not found");
  const missing: string[] = [];
  for (const entry of CITED_IN) {
    for (const file of sources(entry)) {
      for (const id of citedIds(fs.readFileSync(file, "utf8"))) {
        if (!documented.has(id)) missing.push(`${path.relative(ROOT, file)}: ${id}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
