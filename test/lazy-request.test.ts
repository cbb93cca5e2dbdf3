// The lazy Request (core/lazy-request.ts) against each runtime's own Request: every property the
// runtime's Request.prototype has, bodies, errors, copies, fetch(), util.inspect and the signal
// (test/fixtures/lazy-request-check.js). The protocol suite runs the worker with --lazy-request too.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, test } from "node:test";
import { ROOT, runtimes } from "./lib/workers.ts";

const SCRIPT = path.join(ROOT, "test/fixtures/lazy-request-check.js");

for (const rt of runtimes()) {
  describe(`lazy Request on ${rt.name}`, () => {
    // Node 20 cannot load TypeScript: it gets the build.
    const module = rt.name === "node20" ? path.join(ROOT, "dist/core/mod.js") : path.join(ROOT, "core/mod.ts");
    const args = rt.name === "deno" ? ["run", "-A", SCRIPT, pathToFileURL(module).href] : [SCRIPT, pathToFileURL(module).href];
    const report = JSON.parse(execFileSync(rt.bin, args, { encoding: "utf8", cwd: ROOT })) as { diffs: unknown[]; checks: Record<string, unknown> };
    const c = report.checks;

    test("every case reads as the runtime's Request reads (all its getters, text(), errors)", () => {
      assert.deepEqual(report.diffs, []);
    });

    test("a body read by arrayBuffer(), bytes(), text() or json() gives what the runtime's Request gives, and is used after", () => {
      const b = c.bodyRead as { diffs: { name: string }[]; text: unknown; json: unknown; hasBytes: boolean };
      // Deno's own Request leaves a body whose stream errored unused (readable again, clonable);
      // the Fetch standard, Node's and Bun's Request and the lazy one have it used.
      assert.deepEqual(b.diffs.filter((d) => !(rt.name === "deno" && d.name === "an error")), []);
      assert.equal(b.text, '{"b":2}');
      assert.deepEqual(b.json, { a: [1, "é"] });
      assert.equal(b.hasBytes, true, "bytes() exactly where the runtime's Request has it");
    });

    test("a header the runtime refuses is dropped and reported when the real Request is built", () => {
      assert.deepEqual(c.badHeader, [[["x-ok", "1"]], true]);
    });

    test("instanceof, constructor, clone(), new Request(lazy), subclasses, util.inspect", () => {
      assert.deepEqual(c.instanceOf, [true, true, true, "[object Request]", "Request"]);
      assert.deepEqual(c.clone, [true, "http://example.com/x", 4]);
      assert.deepEqual(c.copy, ["http://example.com/x", 4, "PUT", "http://other/", 4, true]);
      assert.deepEqual(c.subclass, [true, false, "http://example.com/x"]);
      assert.equal(c.inspect, true);
    });

    test("the signal aborts whether it was read before or after the abort", () => {
      assert.deepEqual(c.abort, [true, "gone", true, "later", false]);
    });

    test("fetch(lazy) sends the real request; a lazy one as fetch's init is read like one", () => {
      assert.deepEqual(c.fetch, ["POST", "/f?x=1", "lazy", "payload"]);
      assert.deepEqual(c.fetchInit, ["GET", "/g", "init", ""]);
    });
  });
}
