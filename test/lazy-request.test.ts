// The lazy Request (core/lazy-request.ts) against each runtime's own Request: every property the
// runtime's Request.prototype has, bodies, errors, copies, fetch(), util.inspect and the signal
// (test/fixtures/lazy-request-check.js). The protocol suite runs the worker with --lazy-request too.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { fetchRaw } from "./lib/fcgi.ts";
import { importable } from "./lib/internals.ts";
import { ROOT, runtimes, startWorker, type WorkerProc } from "./lib/workers.ts";

const SCRIPT = path.join(ROOT, "test/fixtures/lazy-request-check.js");

for (const rt of runtimes()) {
  describe(`lazy Request on ${rt.name}`, () => {
    const module = importable(rt, "test/fixtures/lazy-entry.ts");
    const args = rt.name === "deno"
      ? ["run", "-A", SCRIPT, pathToFileURL(module).href]
      : [SCRIPT, pathToFileURL(module).href];
    const report = JSON.parse(execFileSync(rt.bin, args, { encoding: "utf8", cwd: ROOT })) as {
      diffs: unknown[];
      checks: Record<string, unknown>;
    };
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

    test("Deno's Cache takes a lazy Request (put, match, keys, delete)", () => {
      assert.deepEqual(c.cache, rt.name === "deno" ? ["kept", 1, true, null] : null);
    });
  });
}

// The CLI's default: the handler gets a lazy Request, which an app may give to a fetch or Request
// it took when it loaded.
const MODULE_SCOPE = path.join(ROOT, "test/fixtures/module-scope.js");
for (const rt of runtimes()) {
  describe(`the CLI on ${rt.name}: fetch and Request taken at an app's module scope`, () => {
    let w: WorkerProc;
    let upstream: http.Server;
    let host = "";
    before(async () => {
      upstream = http.createServer((req, res) => res.end(`${req.method} ${req.url} ${req.headers["x-tag"]}`));
      await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
      host = `127.0.0.1:${(upstream.address() as { port: number }).port}`;
      w = await startWorker(rt, [MODULE_SCOPE, "--listen", ":0"]);
    });
    after(async () => {
      await w.stop();
      upstream.close();
    });
    const params = () => ({ HTTP_HOST: host, HTTP_X_TAG: "t1" });

    test("the saved fetch sends the request itself", async () => {
      const r = await fetchRaw(w.address, "GET", "/proxy?q=1", { params: params() });
      assert.equal(r.text, "upstream: GET /proxy?q=1 t1");
    });

    // Node's Request is taken from the runtime by the app before the worker can wrap it (reading
    // it loads undici, 17 MiB, which a worker does not do before its first request): README.
    test(
      rt.name.startsWith("node")
        ? "the saved Request is the runtime's own: it refuses the lazy Request (500)"
        : "the saved Request copies it",
      async () => {
        const r = await fetchRaw(w.address, "GET", "/copy", { params: params() });
        if (rt.name.startsWith("node")) assert.equal(r.status, 500);
        else assert.equal(r.text, `GET http://${host}/copy t1`);
      },
    );
  });
}
