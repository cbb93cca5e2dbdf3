// The worker's life cycle on every runtime, as the README promises it: ctx.waitUntil() is awaited by
// a graceful close and its rejection logged; --close-timeout cuts off what runs past it (and what the
// web server then sees); SIGTERM, SIGINT and SIGQUIT close gracefully; a second signal exits at once;
// serve()'s close() and finished (test/fixtures/serve-close.js, run on each runtime).
//
//   npm run build && node --test test/lifecycle.test.ts

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";
import { fetchRaw, parseCgi, RawConn, requestBytes, T } from "./lib/fcgi.ts";
import { waitFor } from "./lib/proc.ts";
import { APP, ROOT, runtimes, startWorker, type WorkerProc } from "./lib/workers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the worker has logged a line matching `re` (its log is stderr and stdout). */
function logged(w: WorkerProc, re: RegExp, ms = 5000): Promise<unknown> {
  return waitFor(() => re.test(w.log()), ms, `a log line matching ${re}; log so far:\n${w.log()}`);
}

/** The log from the graceful-close line on. */
function afterClosing(w: WorkerProc): string {
  const log = w.log();
  const at = log.search(/fetchcgi: SIG[A-Z]+: closing gracefully/);
  assert.ok(at >= 0, `no "closing gracefully" line in:\n${log}`);
  return log.slice(at);
}

/** Starts `uri` on a fresh kept-alive connection and waits until its handler runs (it has sent nothing yet). */
async function inFlight(w: WorkerProc, uri: string): Promise<RawConn> {
  const c = await RawConn.connect(w.address);
  c.send(requestBytes(1, "GET", uri, { keepConn: true }));
  return c;
}

for (const rt of runtimes()) {
  describe(`lifecycle on ${rt.name}`, () => {
    test("ctx.waitUntil: a rejection is logged and the worker serves on; a graceful close waits for what is pending", async () => {
      const w = await startWorker(rt, [APP, "--listen", ":0"]);
      try {
        assert.equal((await fetchRaw(w.address, "GET", "/wait-until-later?ms=20&reject")).text, "answered");
        await logged(w, /fetchcgi error: waitUntil promise rejected: Error: waitUntil rejected on purpose/);
        assert.equal((await fetchRaw(w.address, "GET", "/hello")).text, "hello");
        // Answered at once; their promises settle 2 s and 1.5 s later, well after the signal.
        assert.equal((await fetchRaw(w.address, "GET", "/wait-until-later?ms=2000")).text, "answered");
        assert.equal((await fetchRaw(w.address, "GET", "/wait-until-later?ms=1500&reject")).text, "answered");
        w.proc.kill("SIGTERM");
        assert.equal(await w.exited, 0);
        const closing = afterClosing(w);
        assert.match(
          closing,
          /waitUntil settled after 2000 ms/,
          "the worker exited before its waitUntil promise settled",
        );
        assert.match(
          closing,
          /waitUntil promise rejected: Error: waitUntil rejected on purpose/,
          "the rejection during the close was not logged",
        );
      } finally {
        await w.stop();
      }
    });

    test("--close-timeout: a request running past it is cut off, its connection closed without END_REQUEST; one that ends in time is answered", async () => {
      const w = await startWorker(rt, [APP, "--listen", ":0", "--close-timeout", "1500"]);
      try {
        const streaming = await inFlight(w, "/stream?n=1000&gap=50"); // writes on past the timeout
        const silent = await inFlight(w, "/ignore-abort?ms=30000"); // has written nothing, ignores its signal
        const quick = await inFlight(w, "/slow?ms=1000"); // ends within the timeout
        await streaming.until(
          () => streaming.records.some((r) => r.type === T.STDOUT),
          5000,
          "the stream's first STDOUT",
        );
        await sleep(300); // every request read: a connection whose request is still unread counts as idle
        const t0 = performance.now();
        w.proc.kill("SIGTERM");
        assert.equal(parseCgi((await quick.response(1)).stdout).text, "slept");
        await streaming.waitClosed(5000);
        await silent.waitClosed(5000);
        const cut = performance.now() - t0;
        // What the web server sees: the connection closes and no END_REQUEST came, which every web
        // server reads as a failed response (nginx: "upstream prematurely closed", 502 if no head was sent).
        for (const c of [streaming, silent]) {
          assert.deepEqual(c.ends(1), [], `END_REQUEST on a cut-off request: ${c.describe()}`);
        }
        assert.ok(streaming.records.filter((r) => r.type === T.STDOUT).length > 1, "the stream was cut, not refused");
        assert.equal(silent.records.length, 0, "nothing was sent for the silent handler");
        assert.ok(cut >= 1400, `cut off after ${cut.toFixed(0)} ms, before the 1500 ms close timeout`);
        assert.ok(cut < 5000, `cut off only after ${cut.toFixed(0)} ms`);
        assert.equal(await w.exited, 0);
        assert.match(
          afterClosing(w),
          /fetchcgi warn: close: 2 request\(s\) still running after 1500 ms; cutting them off/,
        );
      } finally {
        await w.stop();
      }
    });

    for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) {
      test(`${signal} closes gracefully: a request in flight is answered, new connections are refused, exit 0`, async () => {
        const w = await startWorker(rt, [APP, "--listen", ":0"]);
        try {
          const c = await inFlight(w, "/slow?ms=700");
          const idle = await RawConn.connect(w.address); // an idle connection is closed at once
          await sleep(200);
          w.proc.kill(signal);
          await logged(w, new RegExp(`fetchcgi: ${signal}: closing gracefully`));
          await idle.waitClosed(3000);
          const end = await c.response(1, 5000);
          assert.equal(parseCgi(end.stdout).text, "slept");
          assert.equal(end.protocolStatus, 0);
          assert.equal(await w.exited, 0);
          assert.equal(w.proc.signalCode, null, `killed by ${w.proc.signalCode}, not closed`);
          await assert.rejects(RawConn.connect(w.address));
        } finally {
          await w.stop();
        }
      });
    }

    test("a second signal exits at once (code 1), cutting off what runs", async () => {
      const w = await startWorker(rt, [APP, "--listen", ":0"]); // --close-timeout 10 s by default
      try {
        const c = await inFlight(w, "/ignore-abort?ms=30000");
        await sleep(200);
        w.proc.kill("SIGTERM");
        await logged(w, /fetchcgi: SIGTERM: closing gracefully/);
        const t0 = performance.now();
        w.proc.kill("SIGINT");
        assert.equal(await w.exited, 1);
        const took = performance.now() - t0;
        assert.ok(took < 3000, `exited ${took.toFixed(0)} ms after the second signal`);
        await c.waitClosed(3000);
        assert.deepEqual(c.ends(1), []);
      } finally {
        await w.stop();
      }
    });

    test("serve(): close() stops accepting, lets a request finish, then resolves, and `finished` after it; closeTimeout cuts off; a bad address rejects both ready and finished", () => {
      const file = path.join(ROOT, "test/fixtures/serve-close.js");
      const args = rt.name === "deno" ? ["run", "-A", file] : [file];
      // The process must end by itself once its servers are closed: the timeout catches one that hangs.
      const out = JSON.parse(execFileSync(rt.bin, args, { encoding: "utf8", timeout: 20000 }));
      // The client's own socket may see the end before or after close() resolves.
      const answer = out.inFlight.indexOf("answer ended: done");
      assert.ok(
        answer > out.inFlight.indexOf("handler done"),
        `the answer came before the handler ended: ${out.inFlight}`,
      );
      assert.deepEqual(out.inFlight.filter((_: string, i: number) => i !== answer), [
        "handler started",
        "before close: not finished",
        "close() again: the same promise",
        "new connection: refused",
        "handler done",
        "close resolved",
        "finished",
      ]);
      assert.deepEqual(out.cutOff.sort(), [
        "answer cut: no body",
        "close resolved after the close timeout",
        "finished",
        "handler started",
        "log warn: close: 1 request(s) still running after 300 ms; cutting them off",
      ]);
      assert.deepEqual(out.idle, ["finished", "idle close took under a second"]);
      assert.deepEqual(out.failed, ["ready rejected", "finished rejected", "close resolved"]);
    });
  });
}
