// Timeouts and allowed clients on every runtime: --read-timeout cuts a peer that stops mid-record
// or mid-params (slowloris), --idle-timeout closes silent connections, --request-timeout aborts a
// handler that overruns and answers 503, --allow / FCGI_WEB_SERVER_ADDRS refuse other peers.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  baseParams,
  begin,
  connectRefused,
  fetchRaw,
  pairs,
  parseCgi,
  RawConn,
  record,
  requestBytes,
  T,
} from "./lib/fcgi.ts";
import { APP, runtimes, startWorker, type WorkerProc } from "./lib/workers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker's stderr arrives through a pipe: wait for the line rather than expect it at once. */
async function logged(w: WorkerProc, re: RegExp): Promise<void> {
  const deadline = performance.now() + 3000;
  while (!re.test(w.log())) {
    if (performance.now() > deadline) assert.match(w.log(), re);
    await sleep(50);
  }
}

async function closedWithin(c: RawConn, ms: number): Promise<number> {
  const start = performance.now();
  await c.waitClosed(ms);
  return performance.now() - start;
}

for (const rt of runtimes()) {
  describe(`timeouts on ${rt.name}`, () => {
    let w: WorkerProc;
    before(async () => {
      w = await startWorker(rt, [
        APP,
        "--listen",
        ":0",
        "--read-timeout",
        "600",
        "--idle-timeout",
        "1500",
        "--request-timeout",
        "1000",
        "--abort-grace",
        "300",
      ]);
    });
    after(async () => {
      await w.stop();
    });

    test("read timeout: a record trickled one byte at a time is cut; a real request meanwhile is served", async () => {
      const bytes = requestBytes(1, "GET", "/hello");
      const slow = await RawConn.connect(w.address);
      let sent = 0;
      const trickle = setInterval(
        () => !slow.closed && sent < bytes.length && slow.send(bytes.subarray(sent, ++sent)),
        100,
      );
      try {
        const ok = await fetchRaw(w.address, "GET", "/hello");
        assert.equal(ok.text, "hello");
        const took = await closedWithin(slow, 5000);
        assert.ok(sent < bytes.length, "the trickle finished before the cut");
        assert.ok(took >= 400, `closed after ${took} ms, before the read timeout`);
        assert.equal(slow.ends(1).length, 0);
        await logged(w, /read timeout: a record still incomplete after 600 ms from 127\.0\.0\.1:\d+; closing/);
      } finally {
        clearInterval(trickle);
        slow.close();
      }
    });

    test("read timeout: params that never end are cut, whole records or not", async () => {
      const c = await RawConn.connect(w.address);
      c.send(begin(1));
      c.send(record(T.PARAMS, 1, pairs(baseParams("GET", "/hello"))));
      await closedWithin(c, 5000);
      assert.equal(c.ends(1).length, 0);
      await logged(w, /read timeout: request 1's params still incomplete after 600 ms/);
    });

    test("read timeout: a slow body is not cut while whole records keep coming", async () => {
      // 20 records 100 ms apart: 2 s in all, each record whole.
      const c = await RawConn.connect(w.address);
      c.send(begin(1));
      c.send(record(T.PARAMS, 1, pairs(baseParams("POST", "/count", { CONTENT_LENGTH: "20" }))));
      c.send(record(T.PARAMS, 1));
      for (let i = 0; i < 20; i++) {
        await sleep(100);
        c.send(record(T.STDIN, 1, "x"));
      }
      c.send(record(T.STDIN, 1));
      const end = await c.response(1);
      // The request timeout (1000 ms) counts from the params' end: the handler ran past it.
      const r = parseCgi(end.stdout);
      assert.ok(r.status === 200 || r.status === 503, String(r.status));
      assert.ok(
        !/read timeout/.test(w.log().split("params still incomplete")[1] ?? ""),
        "a read timeout hit the slow body",
      );
      c.close();
    });

    test("idle timeout: a kept connection with nothing in flight is closed after --idle-timeout", async () => {
      const c = await RawConn.connect(w.address);
      c.send(requestBytes(1, "GET", "/hello", { keepConn: true }));
      await c.response(1);
      const took = await closedWithin(c, 5000);
      assert.ok(took >= 1000, `closed ${took} ms after the response`);
      await logged(w, /idle for 1500 ms/);
    });

    test("request timeout: a handler that overruns gets a TimeoutError on request.signal and the client a 503", async () => {
      const r = await fetchRaw(w.address, "GET", "/slow?ms=8000");
      assert.equal(r.status, 503);
      assert.equal(r.text, "request timed out\n");
      assert.match(r.end.stderr, /request timed out after 1000 ms/);
      const aborts = JSON.parse((await fetchRaw(w.address, "GET", "/aborts")).text) as string[];
      assert.ok(aborts.includes("request timed out after 1000 ms"), JSON.stringify(aborts));
    });

    test("request timeout: a handler that ignores its signal still gets its 503 on time; its late answer is dropped", async () => {
      const start = performance.now();
      const r = await fetchRaw(w.address, "GET", "/ignore-abort?ms=3000");
      assert.equal(r.status, 503);
      assert.ok(performance.now() - start < 2800, "the 503 waited for the handler");
    });

    test("request timeout mid-stream: the response fails (no END_REQUEST) instead of looking complete", async () => {
      const c = await RawConn.connect(w.address);
      c.send(requestBytes(1, "GET", "/stream?n=10&gap=300"));
      await c.waitClosed(5000);
      const text = new TextDecoder().decode(
        Buffer.concat(c.records.filter((x) => x.type === T.STDOUT).map((x) => x.content)),
      );
      assert.match(text, /data: 1/);
      assert.ok(!text.includes("data: 10"), "the stream ran to its end");
      assert.equal(c.ends(1).length, 0, "a cut stream must not end with END_REQUEST");
      assert.equal((await fetchRaw(w.address, "GET", "/hello")).text, "hello");
    });
  });

  describe(`allowed clients on ${rt.name}`, () => {
    test("--allow: listed v4 and v6 peers are served, others refused with a log line", async () => {
      const w = await startWorker(rt, [APP, "--listen", "[::]:0", "--allow", "10.0.0.0/8,::1"]);
      try {
        const port = w.address.split(":").pop();
        assert.equal((await fetchRaw(`tcp:[::1]:${port}`, "GET", "/hello")).text, "hello");
        const c = await connectRefused(`tcp:127.0.0.1:${port}`);
        if (c) {
          c.send(requestBytes(1, "GET", "/hello"));
          await c.waitClosed();
          assert.equal(c.records.length, 0);
        }
        await logged(w, /refused connection from (::ffff:)?127\.0\.0\.1 \(not in the allowed clients\)/);
      } finally {
        await w.stop();
      }
    });

    test("FCGI_WEB_SERVER_ADDRS: the spec's variable is the default list; a bad entry is a startup error", async () => {
      process.env.FCGI_WEB_SERVER_ADDRS = "127.0.0.2,127.0.0.0/30";
      try {
        const w = await startWorker(rt, [APP, "--listen", "127.0.0.1:0"]);
        try {
          assert.equal((await fetchRaw(w.address, "GET", "/hello")).text, "hello");
        } finally {
          await w.stop();
        }
        process.env.FCGI_WEB_SERVER_ADDRS = "127.0.0.2";
        const refused = await startWorker(rt, [APP, "--listen", "127.0.0.1:0"]);
        try {
          await (await connectRefused(refused.address))?.waitClosed();
          await logged(refused, /refused connection from 127\.0\.0\.1/);
        } finally {
          await refused.stop();
        }
      } finally {
        delete process.env.FCGI_WEB_SERVER_ADDRS;
      }
      await assert.rejects(
        startWorker(rt, [APP, "--listen", "127.0.0.1:0", "--allow", "10.0.0.0/33"]),
        /bad allowed client "10\.0\.0\.0\/33"/,
      );
    });
  });
}
