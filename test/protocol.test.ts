// Protocol conformance: a real worker process per runtime, spoken to in raw FastCGI records.
// Rule IDs (F*, G*, C*, S*) are those of notes/fastcgi.md.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  baseParams,
  begin,
  cat,
  fetchRaw,
  pairs,
  parseCgi,
  RawConn,
  record,
  requestBytes,
  stream,
  T,
} from "./lib/fcgi.ts";
import { pattern } from "./lib/frontChecks.ts";
import { APP, runtimes, startWorker, type WorkerProc } from "./lib/workers.ts";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Every check runs twice per runtime: with the runtime's Request and Response (--no-lazy-request
// --no-lazy-response), and with the lazy ones (the CLI's default): a Request built only
// when the handler asks for more than url, method or signal, a Response written without a stream.
for (const rt of runtimes()) {
  for (const lazy of [false, true]) {
    describe(`protocol on ${rt.name}${lazy ? " with the lazy Request and Response" : ""}`, () => {
      let w: WorkerProc;
      let addr: string;
      before(async () => {
        w = await startWorker(rt, [
          APP,
          "--listen",
          ":0",
          "--abort-grace",
          "400",
          ...(lazy ? ["--lazy-response", "--lazy-request"] : ["--no-lazy-response", "--no-lazy-request"]),
        ]);
        addr = w.address;
      });
      after(async () => {
        await w.stop();
      });

      test(`the app's global Response and its Request are ${lazy ? "the lazy ones" : "the runtime's"}`, async () => {
        assert.equal((await fetchRaw(addr, "GET", "/response-class")).text, lazy ? "lazy" : "runtime");
        assert.equal((await fetchRaw(addr, "GET", "/request-class")).text, lazy ? "lazy" : "runtime");
      });

      test("F34/F39/F26: a simple GET, empty STDOUT then one END_REQUEST, then the worker closes (no KEEP_CONN)", async () => {
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/hello"));
        const end = await c.response(1);
        const r = parseCgi(end.stdout);
        assert.equal(r.status, 200);
        assert.equal(r.text, "hello");
        assert.equal(end.appStatus, 0);
        assert.equal(end.protocolStatus, 0);
        const types = end.records.map((x) => x.type);
        assert.deepEqual(types.slice(-2), [T.STDOUT, T.END]);
        assert.equal(end.records.at(-2)!.content.length, 0, "STDOUT ends with an empty record");
        await c.waitClosed();
        assert.equal(c.ends(1).length, 1);
      });

      test("S1/S2: the whole header block is in the first STDOUT record and Status comes last", async () => {
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/redirect"));
        const end = await c.response(1);
        const first = new TextDecoder().decode(end.records.find((x) => x.type === T.STDOUT)!.content);
        assert.ok(first.includes("\r\n\r\n"), "head complete in one record");
        const lines = first.split("\r\n\r\n")[0].split("\r\n");
        assert.match(lines.at(-1)!, /^Status: 301 /);
        assert.ok(lines.includes("location: /hello"));
        c.close();
      });

      test("S7/S6: each Set-Cookie on its own line; hop-by-hop headers dropped", async () => {
        const r = await fetchRaw(addr, "GET", "/cookies");
        assert.deepEqual(r.headers.filter(([n]) => n === "set-cookie").map(([, v]) => v), [
          "a=1; Path=/",
          "b=2; HttpOnly",
        ]);
        const h = await fetchRaw(addr, "GET", "/hop");
        const names = h.headers.map(([n]) => n);
        assert.ok(names.includes("x-kept"));
        for (const n of ["connection", "keep-alive", "x-private"]) assert.ok(!names.includes(n), `${n} dropped`);
      });

      test("F26: KEEP_CONN keeps the connection for the next request; without it the worker closes", async () => {
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/hello", { keepConn: true }));
        await c.response(1);
        await sleep(100);
        assert.equal(c.closed, false);
        c.records = [];
        c.send(requestBytes(1, "GET", "/hello?again", { keepConn: true }));
        assert.equal(parseCgi((await c.response(1)).stdout).text, "hello");
        c.records = [];
        c.send(requestBytes(2, "GET", "/hello"));
        await c.response(2);
        await c.waitClosed();
      });

      test("F27: multiplexed requests on one connection; a slow one does not hold up the others", async () => {
        const c = await RawConn.connect(addr);
        c.send(cat(
          requestBytes(1, "GET", "/slow?ms=600", { keepConn: true }),
          requestBytes(2, "GET", "/hello", { keepConn: true }),
          requestBytes(3, "POST", "/echo", { keepConn: true, body: "three" }),
        ));
        const r2 = await c.response(2, 3000);
        const r3 = await c.response(3, 3000);
        assert.equal(parseCgi(r2.stdout).text, "hello");
        assert.equal(JSON.parse(parseCgi(r3.stdout).text).body, "three");
        assert.equal(c.ends(1).length, 0, "the slow request is still running");
        const r1 = await c.response(1, 3000);
        assert.equal(parseCgi(r1.stdout).text, "slept");
        c.close();
      });

      test("F21/F22/G4: GET_VALUES answered with one GET_VALUES_RESULT, only known names, even mid-request", async () => {
        const c = await RawConn.connect(addr);
        c.send(
          cat(
            begin(1, 1, true),
            record(
              T.GET_VALUES,
              0,
              pairs({ FCGI_MAX_CONNS: "", FCGI_MAX_REQS: "", FCGI_MPXS_CONNS: "", NOT_A_VALUE: "" }),
            ),
          ),
        );
        await c.until(() => c.records.some((r) => r.type === T.GET_VALUES_RESULT), 3000, "GET_VALUES_RESULT");
        c.send(cat(stream(T.PARAMS, 1, pairs(baseParams("GET", "/hello"))), stream(T.STDIN, 1)));
        await c.response(1);
        const results = c.records.filter((r) => r.type === T.GET_VALUES_RESULT);
        assert.equal(results.length, 1, "exactly one record, no empty trailer");
        assert.equal(results[0].id, 0);
        const text = new TextDecoder().decode(results[0].content);
        assert.ok(
          text.includes("FCGI_MAX_CONNS1024") && text.includes("FCGI_MAX_REQS1024") &&
            text.includes("FCGI_MPXS_CONNS1"),
          text,
        );
        assert.ok(!text.includes("NOT_A_VALUE"));
        c.close();
      });

      test("F23: an unknown management type gets UNKNOWN_TYPE", async () => {
        const c = await RawConn.connect(addr);
        c.send(record(42, 0, "xyz"));
        await c.until(() => c.records.some((r) => r.type === T.UNKNOWN_TYPE), 3000, "UNKNOWN_TYPE");
        const r = c.records.find((x) => x.type === T.UNKNOWN_TYPE)!;
        assert.equal(r.id, 0);
        assert.equal(r.content[0], 42);
        c.close();
      });

      test("F12/G3: unknown application types and records for inactive ids are ignored", async () => {
        const c = await RawConn.connect(addr);
        c.send(
          cat(record(42, 1, "junk"), stream(T.STDIN, 7, "stray"), record(T.ABORT, 9), requestBytes(1, "GET", "/hello")),
        );
        const end = await c.response(1);
        assert.equal(parseCgi(end.stdout).text, "hello");
        assert.ok(c.records.every((r) => r.id === 1), "nothing written for other ids");
      });

      test("G1/G2: a bad version or a BEGIN_REQUEST on an active id closes the connection; the worker serves on", async () => {
        const bad = await RawConn.connect(addr);
        bad.send(record(T.BEGIN, 1, new Uint8Array(8), 0, 2));
        await bad.waitClosed();
        const dup = await RawConn.connect(addr);
        dup.send(cat(begin(1, 1, true), begin(1, 1, true)));
        await dup.waitClosed();
        assert.equal((await fetchRaw(addr, "GET", "/hello")).text, "hello");
      });

      test("F27: an unknown role gets UNKNOWN_ROLE", async () => {
        const c = await RawConn.connect(addr);
        c.send(begin(1, 9, false));
        const end = await c.response(1);
        assert.equal(end.protocolStatus, 3);
        c.close();
      });

      test("F15/G5: params split inside pairs and length prefixes, in 1-byte records and 1-byte chunks", async () => {
        const p = baseParams("GET", "/env", { HTTP_X_LONG: "v".repeat(300), "HTTP_X_UTF": "café ✓" });
        const body = pairs(p, true); // 4-byte lengths even for short names (F18)
        const c = await RawConn.connect(addr);
        c.socket.setNoDelay(true);
        const bytes = cat(begin(1), stream(T.PARAMS, 1, body, 1), stream(T.STDIN, 1));
        for (let i = 0; i < bytes.length; i += 97) {
          c.send(bytes.subarray(i, i + 97));
          if (i % 970 === 0) await sleep(1);
        }
        const env = JSON.parse(parseCgi((await c.response(1)).stdout).text).env;
        assert.equal(env.HTTP_X_LONG, "v".repeat(300));
        assert.equal(env.HTTP_X_UTF, "café ✓");
        assert.equal(env.REQUEST_URI, "/env");
        c.close();
      });

      test("F20: params over the limits get 431 with a STDERR line, memory never allocated for a huge length", async () => {
        const c = await RawConn.connect(addr);
        // One pair announcing a 2 GiB value.
        const huge = cat(Uint8Array.of(4, 0xff, 0xff, 0xff, 0xff), enc.encode("NAME"));
        c.send(cat(begin(1), record(T.PARAMS, 1, huge)));
        const end = await c.response(1);
        assert.equal(parseCgi(end.stdout).status, 431);
        assert.match(end.stderr, /exceeds/);
        c.close();
        const many = await fetchRaw(addr, "GET", "/hello", {
          params: Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`HTTP_X_${i}`, "1"])),
        });
        assert.equal(many.status, 431);
        assert.equal((await fetchRaw(addr, "GET", "/hello")).text, "hello");
      });

      test("F29/G9: ABORT_REQUEST aborts request.signal; END_REQUEST once, nothing after it", async () => {
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/slow?ms=5000", { keepConn: true }));
        await sleep(200);
        c.send(record(T.ABORT, 1));
        await c.response(1, 3000);
        await sleep(300);
        assert.equal(c.ends(1).length, 1);
        const endIndex = c.records.findIndex((r) => r.type === T.END);
        assert.equal(endIndex, c.records.length - 1, "nothing after END_REQUEST");
        c.close();
        const aborts = JSON.parse((await fetchRaw(addr, "GET", "/aborts")).text) as string[];
        assert.ok(aborts.some((a) => a.includes("ABORT_REQUEST")), JSON.stringify(aborts));
      });

      test("F29: a handler that ignores the abort gets END_REQUEST after the grace period, and its late response is dropped", async () => {
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/ignore-abort?ms=1500", { keepConn: true }));
        await sleep(100);
        const t0 = performance.now();
        c.send(record(T.ABORT, 1));
        await c.response(1, 3000);
        const waited = performance.now() - t0;
        assert.ok(waited < 1300, `END_REQUEST after ${waited} ms, before the handler finished`);
        await sleep(1700); // the handler returns now
        assert.equal(c.records.filter((r) => r.id === 1 && r.type === T.STDOUT && r.content.length > 0).length, 0);
        assert.equal(c.ends(1).length, 1);
        c.close();
      });

      test("F30: closing the connection aborts the handler's request.signal", async () => {
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/slow?ms=5000"));
        await sleep(200);
        c.close();
        let aborts: string[] = [];
        for (let i = 0; i < 30 && !aborts.some((a) => a.includes("closed the connection")); i++) {
          await sleep(100);
          aborts = JSON.parse((await fetchRaw(addr, "GET", "/aborts")).text);
        }
        assert.ok(aborts.some((a) => a.includes("closed the connection")), JSON.stringify(aborts));
      });

      test("errors: throw, reject and a non-Response give 500 with a STDERR line; the worker lives on", async () => {
        for (const path of ["/throw", "/throw-async", "/not-a-response"]) {
          const r = await fetchRaw(addr, "GET", path);
          assert.equal(r.status, 500, path);
          assert.ok(r.end.stderr.length > 0, `${path} logged to STDERR`);
        }
        assert.equal((await fetchRaw(addr, "GET", "/hello")).text, "hello");
      });

      test("errors: a stream failing before any byte gives 500; failing mid-way ends without a clean END_REQUEST", async () => {
        assert.equal((await fetchRaw(addr, "GET", "/stream-error-early")).status, 500);
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/stream-error", { keepConn: true }));
        await c.waitClosed();
        assert.equal(c.ends(1).length, 0, "no END_REQUEST: the web server must see a failure");
        assert.ok(c.records.some((r) => r.type === T.STDERR));
        assert.equal((await fetchRaw(addr, "GET", "/hello")).text, "hello");
      });

      test("C1/C12: HEAD has no body; CONNECT/TRACE answered 405 without the handler", async () => {
        const h = await fetchRaw(addr, "HEAD", "/hello");
        assert.equal(h.status, 200);
        assert.equal(h.body.length, 0);
        for (const m of ["CONNECT", "TRACE", "TRACK"]) assert.equal((await fetchRaw(addr, m, "/hello")).status, 405);
      });

      test("C3/C6/C7: URL, repeated and merged headers, Authorization fallback, a bad header skipped", async () => {
        const c = await RawConn.connect(addr);
        const list: [string, string][] = [
          ...Object.entries(baseParams("POST", "/echo/%E2%9C%93/caf%C3%A9?a=1&b=%20x")),
          ["HTTP_X_DUP", "a"],
          ["HTTP_X_DUP", "b"],
          ["HTTP_COOKIE", "c=1"],
          ["HTTP_COOKIE", "d=2"],
          ["CONTENT_TYPE", "text/plain"],
          ["HTTP_CONTENT_TYPE", "text/plain"],
          ["CONTENT_LENGTH", "2"],
          ["HTTP_CONTENT_LENGTH", "2"],
          ["REDIRECT_HTTP_AUTHORIZATION", "Basic dTpw"],
          ["HTTP_BAD NAME", "x"],
          ["HTTP_X_OK", "fine"],
          ["HTTP_HOST", "override.test:8443"], // a `fastcgi_param HTTP_HOST` override: the last one wins
        ];
        c.send(cat(begin(1), stream(T.PARAMS, 1, pairs(list)), stream(T.STDIN, 1, "hi")));
        const end = await c.response(1);
        const echo = JSON.parse(parseCgi(end.stdout).text);
        assert.equal(echo.url, "http://override.test:8443/echo/%E2%9C%93/caf%C3%A9?a=1&b=%20x");
        assert.equal(echo.headers["x-dup"], "a, b");
        assert.equal(echo.headers.cookie, "c=1; d=2");
        assert.equal(echo.headers["content-type"], "text/plain");
        assert.equal(echo.headers["content-length"], "2");
        assert.equal(echo.headers.authorization, "Basic dTpw");
        assert.equal(echo.headers["x-ok"], "fine");
        assert.equal(echo.body, "hi");
        assert.match(end.stderr, /skipped invalid request header/);
        c.close();
      });

      test("C4: bodies without CONTENT_LENGTH or with -1 (Caddy) are read to the end of STDIN", async () => {
        const body = "x".repeat(100000);
        const none = await fetchRaw(addr, "POST", "/count", { body, params: { CONTENT_LENGTH: "" } });
        assert.equal(none.text, "100000");
        const minus = await fetchRaw(addr, "POST", "/count", { body, params: { CONTENT_LENGTH: "-1" } });
        assert.equal(minus.text, "100000");
      });

      test("F40: a body shorter than CONTENT_LENGTH fails the handler's read", async () => {
        const r = await fetchRaw(addr, "POST", "/count", { body: "abc", params: { CONTENT_LENGTH: "10" } });
        assert.equal(r.status, 500);
        assert.match(r.end.stderr, /truncated/);
      });

      test("a 16 MiB upload in 65535-byte records arrives whole", async () => {
        const body = new Uint8Array(16 << 20).fill(7);
        const r = await fetchRaw(addr, "POST", "/count", { body });
        assert.equal(r.text, String(16 << 20));
      });

      test("backpressure: a handler reading slowly makes the worker stop reading the connection", async () => {
        const c = await RawConn.connect(addr);
        const size = 48 << 20;
        const p = baseParams("POST", "/count?delay=50", { CONTENT_LENGTH: String(size) });
        c.send(cat(begin(1), stream(T.PARAMS, 1, pairs(p))));
        const chunk = new Uint8Array(0xffff);
        for (let sent = 0; sent < size; sent += chunk.length) {
          c.send(record(T.STDIN, 1, chunk.subarray(0, Math.min(chunk.length, size - sent))));
        }
        await sleep(1500);
        // A worker buffering without bound would have drained our socket by now.
        assert.ok(c.socket.writableLength > 16 << 20, `only ${c.socket.writableLength} bytes still queued on our side`);
        c.close();
      });

      test("F41-F43: Authorizer role: 200 + Variable-* passes, anything else goes to the client", async () => {
        const ok = await fetchRaw(addr, "GET", "/auth", { role: 2, params: { HTTP_AUTHORIZATION: "Bearer good" } });
        assert.equal(ok.status, 200);
        assert.ok(ok.headers.some(([n, v]) => n === "variable-user" && v === "alice"));
        const no = await fetchRaw(addr, "GET", "/auth", { role: 2, params: { HTTP_AUTHORIZATION: "Bearer bad" } });
        assert.equal(no.status, 403);
        assert.equal(no.text, "denied");
      });

      test("F44-F46: Filter role gets FCGI_DATA as ctx.data and the FCGI_DATA_* params", async () => {
        const c = await RawConn.connect(addr);
        const p = baseParams("GET", "/filter", { FCGI_DATA_LAST_MOD: "1700000000", FCGI_DATA_LENGTH: "11" });
        c.send(
          cat(begin(1, 3), stream(T.PARAMS, 1, pairs(p)), stream(T.STDIN, 1), stream(T.DATA, 1, "hello world", 4)),
        );
        const r = parseCgi((await c.response(1)).stdout);
        assert.equal(r.text, "HELLO WORLD");
        assert.ok(r.headers.some(([n, v]) => n === "x-last-mod" && v === "1700000000"));
        c.close();
      });

      test("env is the frozen params, ctx has role and remote; params never reach process.env (C11)", async () => {
        const r = await fetchRaw(addr, "GET", "/env", {
          params: { HTTP_PROXY: "http://evil.test", REMOTE_USER: "bob" },
        });
        const j = JSON.parse(r.text);
        assert.equal(j.frozen, true);
        assert.equal(j.env.REMOTE_USER, "bob");
        assert.equal(j.role, "responder");
        assert.equal(j.remote.family, "IPv4");
        assert.equal(j.processEnvProxy, null);
      });

      test("the handler's request is a real Request: clone(), new Request(request), a stable signal", async () => {
        const r = await fetchRaw(addr, "PUT", "/derive?q=1", { body: "payload" });
        const out = JSON.parse(r.text);
        assert.equal(out.isRequest, true);
        assert.match(out.clone, /\/derive\?q=1$/);
        assert.deepEqual(out.derived.slice(1), ["PUT", "1"]);
        assert.equal(out.body, "payload");
        assert.deepEqual(out.signal, [true, false, true]);
      });

      test("ctx.log writes FCGI_STDERR; ctx.waitUntil is accepted", async () => {
        const r = await fetchRaw(addr, "GET", "/log");
        assert.equal(r.end.stderr, "a line for the error log\n");
        assert.equal((await fetchRaw(addr, "GET", "/wait-until")).text, "ok");
      });

      test("big and zero-length responses; SSE chunks leave as they come", async () => {
        const big = await fetchRaw(addr, "GET", "/big?n=300000");
        assert.equal(big.body.length, 300000);
        assert.ok(big.end.records.every((r) => r.content.length <= 0xffff));
        assert.equal((await fetchRaw(addr, "GET", "/empty")).status, 204);
        const c = await RawConn.connect(addr);
        c.send(requestBytes(1, "GET", "/stream?n=3&gap=400"));
        await c.until(
          () => c.records.some((r) => r.type === T.STDOUT && new TextDecoder().decode(r.content).includes("data: 1")),
          2000,
          "first event",
        );
        assert.equal(c.ends(1).length, 0, "the first event left before the stream ended");
        const all = parseCgi((await c.response(1)).stdout).text;
        assert.equal(all, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
        c.close();
      });

      test("request.arrayBuffer(), bytes(), text() and json() give the body, exactly, and leave it used", async () => {
        const body = '{"k":"vé"}';
        for (const as of ["arrayBuffer", "bytes", "text", "json"]) {
          const j = JSON.parse((await fetchRaw(addr, "POST", `/read?as=${as}`, { body })).text);
          if (j.absent) continue; // bytes() on Node 20
          if (as === "json") assert.deepEqual(j.text, { k: "vé" });
          else assert.equal(j.text, body, as);
          if (as === "arrayBuffer" || as === "bytes") {
            assert.equal(j.length, enc.encode(body).length, `${as}: a buffer of the body's size`);
          }
          assert.equal(j.used, true, `${as}: bodyUsed`);
        }
      });

      test("a Response returned twice: its body goes out once, the second request gets a 500 and a log line", async () => {
        const first = await fetchRaw(addr, "GET", "/same-response");
        assert.equal(first.status, 200);
        assert.equal(first.body.length, 20000);
        const second = await fetchRaw(addr, "GET", "/same-response");
        assert.equal(second.status, 500);
        assert.match(second.end.stderr, /response body failed/);
        assert.equal((await fetchRaw(addr, "GET", "/hello")).text, "hello");
      });
    });
  }
}

/** Checks a /big?seed= body, naming the first byte that differs. */
function assertPattern(body: Uint8Array, n: number, seed: number): void {
  assert.equal(body.length, n);
  const want = pattern(n, seed);
  const at = body.findIndex((b, i) => b !== want[i]);
  assert.equal(at, -1, `byte ${at} is ${body[at]}, not of the body with seed ${seed}`);
}

// Output buffers from core/pool.ts (the lazy Response's copy of a bytes body, a long text body as
// UTF-8, the records of a streamed body's 64 KiB flushes) are reused once the socket is done with
// them. On a Unix socket that the client does not read, the worker's write of 1 MiB stays
// pending: the bodies served meanwhile must not take its buffers.
for (const rt of runtimes()) {
  for (const [kind, query] of [["bytes", ""], ["text", "&text=1"], ["a stream of 8 KiB chunks", "&chunk=8192"]]) {
    test(`${rt.name}: a pooled response body (${kind}) the socket still holds is not reused by the next responses`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchcgi-pool-"));
      const w = await startWorker(rt, [APP, "--listen", `unix:${path.join(dir, "w.sock")}`]);
      try {
        const N = 1 << 20;
        const slow = await RawConn.connect(w.address);
        slow.socket.pause();
        slow.send(requestBytes(1, "GET", `/big?n=${N}&seed=1${query}`));
        await sleep(300);
        for (let seed = 2; seed < 6; seed++) {
          assertPattern((await fetchRaw(w.address, "GET", `/big?n=${N}&seed=${seed}${query}`)).body, N, seed);
        }
        slow.socket.resume();
        assertPattern(parseCgi((await slow.response(1)).stdout).body, N, 1);
        slow.close();
      } finally {
        await w.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

for (const rt of runtimes()) {
  describe(`limits and close on ${rt.name}`, () => {
    test("OVERLOADED past --max-requests; a connection past --max-conns waits until one closes", async () => {
      const w = await startWorker(rt, [APP, "--listen", ":0", "--max-requests", "1", "--max-conns", "2"]);
      try {
        const a = await RawConn.connect(w.address);
        a.send(requestBytes(1, "GET", "/slow?ms=800"));
        await sleep(200);
        const b = await RawConn.connect(w.address);
        b.send(begin(1, 1, true)); // keep-conn: b stays open and counts against --max-conns
        const end = await b.response(1);
        assert.equal(end.protocolStatus, 2);
        // Not accepted (not closed) until `a`, which did not ask to keep its connection, is done.
        const third = await RawConn.connect(w.address);
        third.send(requestBytes(1, "GET", "/hello"));
        assert.equal(parseCgi((await a.response(1)).stdout).text, "slept");
        assert.equal(parseCgi((await third.response(1)).stdout).text, "hello");
        a.close();
        b.close();
        third.close();
      } finally {
        await w.stop();
      }
    });

    test("--no-multiplex: FCGI_MPXS_CONNS=0 and CANT_MPX_CONN for a second request", async () => {
      const w = await startWorker(rt, [APP, "--listen", ":0", "--no-multiplex"]);
      try {
        const c = await RawConn.connect(w.address);
        c.send(
          cat(
            record(T.GET_VALUES, 0, pairs({ FCGI_MPXS_CONNS: "" })),
            requestBytes(1, "GET", "/slow?ms=300", { keepConn: true }),
            begin(2, 1, true),
          ),
        );
        const end2 = await c.response(2);
        assert.equal(end2.protocolStatus, 1);
        assert.equal(parseCgi((await c.response(1)).stdout).text, "slept");
        const v = c.records.find((r) => r.type === T.GET_VALUES_RESULT)!;
        assert.ok(new TextDecoder().decode(v.content).endsWith("FCGI_MPXS_CONNS0"));
        c.close();
      } finally {
        await w.stop();
      }
    });

    test("SIGTERM: a request in flight finishes, then the worker exits 0 and refuses new connections", async () => {
      const w = await startWorker(rt, [APP, "--listen", ":0"]);
      const c = await RawConn.connect(w.address);
      c.send(requestBytes(1, "GET", "/slow?ms=700", { keepConn: true }));
      await sleep(200);
      w.proc.kill("SIGTERM");
      const end = await c.response(1, 5000);
      assert.equal(parseCgi(end.stdout).text, "slept");
      assert.equal(await w.exited, 0);
      await assert.rejects(RawConn.connect(w.address));
    });
  });
}

// Without flags the CLI uses the lazy Response and the lazy Request on every runtime.
for (const rt of runtimes()) {
  test(`the CLI's default on ${rt.name}: the lazy Response and the lazy Request`, async () => {
    const w = await startWorker(rt, [APP, "--listen", ":0"]);
    try {
      assert.equal((await fetchRaw(w.address, "GET", "/response-class")).text, "lazy");
      assert.equal((await fetchRaw(w.address, "GET", "/request-class")).text, "lazy");
    } finally {
      await w.stop();
    }
  });
}
