// The results-document writer: a section is replaced in place between its markers, and the text
// around it (other sections, hand-written prose) is left byte for byte.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { writeSection } from "../lib/report.ts";
import { tmpDir } from "../lib/workers.ts";

test("writeSection appends a new section, then replaces only it, keeping the text around", () => {
  const file = path.join(tmpDir(), "doc.md");
  fs.writeFileSync(file, "# Title\n\nprose\n\n<!-- soak:start -->\nsoak v1\n<!-- soak:end -->\n\ntail\n");
  writeSection("fuzz", "fuzz v1", file);
  assert.equal(
    fs.readFileSync(file, "utf8"),
    "# Title\n\nprose\n\n<!-- soak:start -->\nsoak v1\n<!-- soak:end -->\n\ntail\n\n<!-- fuzz:start -->\nfuzz v1\n<!-- fuzz:end -->\n",
  );
  writeSection("soak", "soak v2\nline 2", file);
  writeSection("fuzz", "fuzz v2", file);
  assert.equal(
    fs.readFileSync(file, "utf8"),
    "# Title\n\nprose\n\n<!-- soak:start -->\nsoak v2\nline 2\n<!-- soak:end -->\n\ntail\n\n<!-- fuzz:start -->\nfuzz v2\n<!-- fuzz:end -->\n",
  );
});

test("writeSection creates the document with its heading, and refuses a lone marker", () => {
  const file = path.join(tmpDir(), "new.md");
  writeSection("fuzz", "body", file);
  assert.match(fs.readFileSync(file, "utf8"), /^# Reliability\n[\s\S]*<!-- fuzz:start -->\nbody\n<!-- fuzz:end -->\n$/);
  fs.writeFileSync(file, "<!-- fuzz:start -->\nno end\n");
  assert.throws(() => writeSection("fuzz", "x", file), /not a start\/end pair/);
});
