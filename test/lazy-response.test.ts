// The lazy Response (core/lazy-response.ts) against each runtime's own Response: the same status,
// headers, body and errors for every way an app makes one (test/fixtures/lazy-check.js), and the
// worker's answers with --lazy-response on are checked by the protocol suite (test/protocol.test.ts).

import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, test } from "node:test";
import { importable } from "./lib/internals.ts";
import { ROOT, runtimes } from "./lib/workers.ts";

const SCRIPT = path.join(ROOT, "test/fixtures/lazy-check.js");

interface Report {
  diffs: { name: string; native: Record<string, unknown>; lazy: Record<string, unknown> }[];
  lazyKept: string[];
  checks: Record<string, unknown>;
}

for (const rt of runtimes()) {
  describe(`lazy Response on ${rt.name}`, () => {
    const module = importable(rt, "test/fixtures/lazy-entry.ts");
    const args = rt.name === "deno"
      ? ["run", "-A", SCRIPT, pathToFileURL(module).href]
      : [SCRIPT, pathToFileURL(module).href];
    const report = JSON.parse(execFileSync(rt.bin, args, { encoding: "utf8", cwd: ROOT })) as Report;

    test("every construction gives what the runtime's Response gives (status, headers, body, errors)", () => {
      const diffs = report.diffs.filter((d) => {
        if (rt.name !== "bun") return true;
        // Bun leaves out the Content-Type the Fetch standard gives a text body; the lazy one has it.
        const withoutType = (h: unknown) =>
          (h as [string, string][]).filter(([n, v]) => !(n === "content-type" && v === "text/plain;charset=UTF-8"));
        return JSON.stringify({ ...d.native, headers: withoutType(d.native.headers) }) !==
          JSON.stringify({ ...d.lazy, headers: withoutType(d.lazy.headers) });
      });
      assert.deepEqual(diffs, []);
    });

    test("text, bytes and null bodies with valid init are kept lazily; everything else goes to the runtime", () => {
      // A symbol key is the runtime's Headers' to judge: Deno skips it, Node and Bun refuse it.
      assert.deepEqual(report.lazyKept.filter((name) => name !== "headers, a symbol key"), [
        "no arguments",
        "text",
        "text with a type",
        "empty text",
        "non-ASCII text",
        "bytes",
        "a view into a larger buffer",
        "an ArrayBuffer",
        "a DataView",
        "null body, 204",
        "status and reason",
        "headers as pairs, repeated",
        "headers as Headers",
        "status 599",
        "headers, mixed-case names",
        "headers, empty and tabbed values",
        "headers, null prototype",
        "headers, names that differ in case only",
        "headers, a value with spaces around",
        "headers, a number value",
        "headers, a DEL in a value",
        "headers, a class instance",
        "headers, 40 names",
        "undefined fields",
        "null init",
      ]);
    });

    test("Response.json, statics, instanceof both ways, subclasses, late header changes, copies", () => {
      const c = report.checks;
      assert.equal(c.jsonLazy, true);
      assert.equal(c.jsonText, '{"a":[1,"é"]}');
      assert.deepEqual(c.jsonHeaders, [["content-type", "application/json"], ["x-j", "1"]]);
      assert.equal(c.jsonUndefined, "TypeError");
      assert.deepEqual(
        c.jsonWritten,
        [["x-j", "1"], ["content-type", "application/x+json"]],
        "plain-object headers are written as given, lower-cased",
      );
      assert.equal(c.jsonRefused, "RangeError");
      assert.deepEqual(
        c.jsonConverted,
        [201, [["content-type", "application/json"], ["x-k", "2"]], false],
        "an init the runtime converts goes to it",
      );
      assert.equal(c.redirect, "https://example.com/");
      assert.equal(c.errorType, "error");
      assert.equal(c.nativeIsLazy, true);
      assert.equal(c.lazyIsNative, true);
      assert.equal(c.tag, "[object Response]");
      assert.deepEqual(c.subclass, [true, "mine", 202, true, "sub"]);
      assert.deepEqual(c.mutated, [["content-type", "text/plain;charset=UTF-8"], ["x-late", "1"]]);
      assert.deepEqual(c.afterRead, [null, true], "once read, the runtime's Response is the one written");
      assert.equal(c.copied, "abc", "bytes are copied at construction, as the Fetch API does");
      assert.deepEqual(c.copiedLarge, ["framed", 65536, true], "a large body is copied too, into a pooled buffer");
      assert.deepEqual(c.readLarge, [200000, true, "1", null], "a large body the app reads is the bytes it gave");
      assert.deepEqual(
        c.sent,
        [true, "TypeError", 201, "1", null],
        "once taken by the worker, the body is used; status and headers stay",
      );
    });

    test("runtime APIs that read a Response's internals take a lazy one (WebAssembly streaming, Bun's HTMLRewriter, Deno's Cache)", () => {
      assert.deepEqual(report.checks.consumers, {
        lazy: true,
        compileStreaming: true,
        instantiateStreaming: true,
        htmlRewriter: rt.name === "bun" ? "<p>y</p>" : "absent",
        cachePut: rt.name === "deno" ? "cached" : "absent",
      });
    });
  });
}
