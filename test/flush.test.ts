// Large responses to a web server that sends no FCGI_KEEP_CONN and reads slowly, as cgi-fcgi does
// (8 KiB at a time, behind its own stdout): the worker closes the connection after END_REQUEST,
// and must not let it go before the peer has taken every byte. On every runtime and listen mode
// (TCP, Unix, and fd 0 from spawn-fcgi on a Unix socket and on TCP). Also the bound on a peer
// that stops reading (--flush-timeout). Bodies are checked byte by byte as they stream in.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { describe, test } from "node:test";
import { annotate } from "./lib/failure.ts";
import { requestBytes, T } from "./lib/fcgi.ts";
import { sleep } from "./lib/frontChecks.ts";
import { freePort } from "./lib/server.ts";
import { APP, type Runtime, runtimes, startWorker, tmpDir, type WorkerProc } from "./lib/workers.ts";

const MiB = 1 << 20;
/** Longer than the worker's linger (2 s): before the fix, a connection left silent that long was destroyed. */
const SILENT_MS = 3000;

function spawnFcgi(): string {
  try {
    return execFileSync("sh", ["-c", "command -v spawn-fcgi"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("spawn-fcgi is not installed (apt-get install -y spawn-fcgi): the fd-0 tests need it");
  }
}

/** What came back for one /big request, checked as it streamed in. */
interface Received {
  /** Body bytes (after the CGI head) that matched /big's a-z pattern, up to the first that did not. */
  body: number;
  /** Offset of the first body byte that differs from the pattern, or -1. */
  wrongAt: number;
  /** END_REQUEST records: [appStatus, protocolStatus] each. */
  ends: [number, number][];
  /** A record came after END_REQUEST. */
  afterEnd: boolean;
}

interface Fetch {
  socket: net.Socket;
  received: Received;
  /** Resolves when the worker closed the connection. */
  closed: Promise<void>;
}

/**
 * Sends GET /big?n=`n`, without FCGI_KEEP_CONN unless `keepConn`, and reads nothing until
 * resume(); `pace` ms then pass after each read before the next (a slow reader). Records are
 * parsed as a stream, without keeping them: a 64 MiB answer is checked in place.
 */
async function fetchBig(address: string, n: number, { pace = 0, keepConn = false } = {}): Promise<Fetch> {
  const socket = await connect(address);
  socket.pause();
  const received: Received = { body: 0, wrongAt: -1, ends: [], afterEnd: false };
  const header = new Uint8Array(8);
  let have = 0; // header bytes so far
  let type = 0;
  let content = 0; // content bytes of the current record still to come
  let padding = 0;
  let end: number[] = [];
  let head = ""; // the CGI head, until its blank line
  let inBody = false;
  const stdout = (bytes: Uint8Array) => {
    let i = 0;
    if (!inBody) {
      for (; i < bytes.length && !inBody; i++) {
        head += String.fromCharCode(bytes[i]);
        inBody = head.endsWith("\r\n\r\n");
      }
    }
    if (received.wrongAt >= 0) return;
    for (; i < bytes.length; i++) {
      if (bytes[i] !== 97 + (received.body % 26)) {
        received.wrongAt = received.body;
        return;
      }
      received.body++;
    }
  };
  socket.on("data", (chunk: Uint8Array) => {
    let i = 0;
    while (i < chunk.length) {
      if (have < 8) {
        const take = Math.min(8 - have, chunk.length - i);
        header.set(chunk.subarray(i, i + take), have);
        have += take;
        i += take;
        if (have < 8) break;
        if (received.ends.length > 0) received.afterEnd = true;
        type = header[1];
        content = (header[4] << 8) | header[5];
        padding = header[6];
        end = [];
      }
      if (content > 0) {
        const take = Math.min(content, chunk.length - i);
        const piece = chunk.subarray(i, i + take);
        if (type === T.STDOUT) stdout(piece);
        else if (type === T.END) end.push(...piece);
        content -= take;
        i += take;
        if (content > 0) break;
      }
      const skip = Math.min(padding, chunk.length - i);
      padding -= skip;
      i += skip;
      if (padding > 0) break;
      if (type === T.END) {
        received.ends.push([((end[0] << 24) | (end[1] << 16) | (end[2] << 8) | end[3]) >>> 0, end[4]]);
      }
      have = 0;
    }
    if (pace > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), pace);
    }
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(requestBytes(1, "GET", `/big?n=${n}`, { keepConn }));
  return { socket, received, closed };
}

function connect(address: string): Promise<net.Socket> {
  const m = /^tcp:(?:\[(.+)\]|(.+)):(\d+)$/.exec(address);
  const opts: net.NetConnectOpts = address.startsWith("unix:")
    ? { path: address.slice(5) }
    : { host: m![1] ?? m![2], port: Number(m![3]) };
  return new Promise((resolve, reject) => {
    const s = net.connect(opts);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Waits for the worker to close `f`'s connection, failing after `ms`. */
async function closedWithin(f: Fetch, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((
    _,
    reject,
  ) => (timer = setTimeout(
    () => reject(new Error(`${what}: the connection was still open after ${ms} ms; got ${f.received.body} body bytes`)),
    ms,
  )));
  try {
    await Promise.race([f.closed, late]);
  } finally {
    clearTimeout(timer);
  }
}

function assertWhole(r: Received, n: number, what: string): void {
  assert.equal(r.wrongAt, -1, `${what}: body byte ${r.wrongAt} differs from the pattern`);
  assert.equal(r.body, n, `${what}: ${r.body} of ${n} body bytes arrived`);
  assert.deepEqual(r.ends, [[0, 0]], `${what}: one END_REQUEST (0, REQUEST_COMPLETE)`);
  assert.equal(r.afterEnd, false, `${what}: a record after END_REQUEST`);
}

interface Mode {
  name: string;
  /** Starts a worker listening this way; `address` is where to connect. */
  start(rt: Runtime, args: string[]): Promise<{ worker: WorkerProc; address: string }>;
}

const MODES: Mode[] = [
  {
    name: "TCP",
    async start(rt, args) {
      const worker = await startWorker(rt, [APP, "--listen", "127.0.0.1:0", ...args]);
      return { worker, address: worker.address };
    },
  },
  {
    name: "Unix socket",
    async start(rt, args) {
      const worker = await startWorker(rt, [APP, "--listen", `unix:${path.join(tmpDir(), "app.sock")}`, ...args]);
      return { worker, address: worker.address };
    },
  },
  {
    name: "fd 0 on a Unix socket (spawn-fcgi)",
    async start(rt, args) {
      const sock = path.join(tmpDir(), "spawned.sock");
      const worker = await startWorker(rt, [APP, ...args], { launcher: [spawnFcgi(), "-n", "-s", sock, "--"] });
      return { worker, address: `unix:${sock}` };
    },
  },
  {
    name: "fd 0 on TCP (spawn-fcgi)",
    async start(rt, args) {
      const port = await freePort();
      const worker = await startWorker(rt, [APP, "--listen", "fd:0", ...args], {
        launcher: [spawnFcgi(), "-n", "-a", "127.0.0.1", "-p", String(port), "--"],
      });
      return { worker, address: `tcp:127.0.0.1:${port}` };
    },
  },
];

/** Runs `fn` against a worker started in `mode`; a failure carries the worker's log. */
async function withWorker(
  rt: Runtime,
  mode: Mode,
  args: string[],
  fn: (address: string, worker: WorkerProc) => Promise<void>,
): Promise<void> {
  const { worker, address } = await mode.start(rt, args);
  try {
    await fn(address, worker);
  } catch (err) {
    throw annotate(
      err,
      `${rt.name}, ${mode.name}`,
      `--- worker log ---\n${worker.log().split("\n").slice(-20).join("\n")}`,
    );
  } finally {
    await worker.stop();
  }
}

for (const rt of runtimes()) {
  // The listen modes of one runtime run side by side: each test spends most of its time waiting.
  describe(`closing after a large response to a slow reader on ${rt.name}`, { concurrency: true }, () => {
    for (const mode of MODES) {
      test(
        `${mode.name}: silent for ${
          SILENT_MS / 1000
        } s, then reads 8 and 64 MiB whole, END_REQUEST last, then the worker closes`,
        { timeout: 90000 },
        () =>
          withWorker(rt, mode, [], async (address) => {
            const sizes = [8 * MiB + 5, 64 * MiB + 7];
            const fetches = await Promise.all(sizes.map((n) => fetchBig(address, n)));
            await sleep(SILENT_MS);
            for (const f of fetches) f.socket.resume();
            for (const [i, f] of fetches.entries()) {
              await closedWithin(f, 60000, `${sizes[i]} bytes`);
              assertWhole(f.received, sizes[i], `${sizes[i]} bytes`);
            }
          }),
      );
    }

    test(
      "TCP: a peer that shuts its side once the answer began, silent for 3 s, still reads 8 MiB whole (with and without FCGI_KEEP_CONN)",
      { timeout: 60000 },
      () =>
        withWorker(rt, MODES[0], [], async (address) => {
          const n = 8 * MiB + 5;
          // Without FCGI_KEEP_CONN the worker has closed its side when the EOF comes; with it, the
          // EOF closes the connection.
          const fetches = await Promise.all([false, true].map((keepConn) => fetchBig(address, n, { keepConn })));
          for (const f of fetches) {
            // /big's answer is written in one go: once its first bytes are here, END_REQUEST is queued
            // and the EOF no longer aborts the request.
            f.socket.once("data", () => {
              f.socket.pause();
              f.socket.end();
            });
            f.socket.resume();
          }
          await sleep(SILENT_MS);
          for (const [i, f] of fetches.entries()) {
            f.socket.resume();
            const what = `${n} bytes, ${i ? "with" : "without"} FCGI_KEEP_CONN`;
            await closedWithin(f, 60000, what);
            assertWhole(f.received, n, what);
          }
        }),
    );

    test(
      "--flush-timeout 1000 on a Unix socket: a reader that takes 8 MiB slowly gets it all; one that stops reading is dropped, logged",
      { timeout: 60000 },
      () =>
        withWorker(rt, MODES[1], ["--flush-timeout", "1000"], async (address, worker) => {
          // Steady: at most 64 KiB per 20 ms, so 8 MiB takes at least 2.5 s, longer than the bound.
          const slow = await fetchBig(address, 8 * MiB, { pace: 20 });
          slow.socket.resume();
          const stuck = await fetchBig(address, 64 * MiB);
          const logged =
            /closing connection from [^:]*: the web server took none of the last (\d+) bytes in 1000 ms \(flushTimeout\)/;
          const deadline = performance.now() + 15000;
          while (!logged.test(worker.log())) {
            assert.ok(performance.now() < deadline, "no flushTimeout line within 15 s of a peer that reads nothing");
            await sleep(100);
          }
          const left = Number(logged.exec(worker.log())![1]);
          assert.ok(left > 32 * MiB, `${left} bytes left: most of the 64 MiB should still have been queued`);
          stuck.socket.resume(); // what the kernel held still arrives, then the end: no END_REQUEST
          await closedWithin(stuck, 10000, "the stuck reader");
          assert.equal(stuck.received.wrongAt, -1);
          assert.ok(stuck.received.body < 64 * MiB, `${stuck.received.body} bytes: the response should have been cut`);
          assert.deepEqual(stuck.received.ends, []);
          await closedWithin(slow, 30000, "the slow reader");
          assertWhole(slow.received, 8 * MiB, "the slow reader");
          assert.equal(
            worker.log().match(new RegExp(logged.source, "g"))?.length,
            1,
            "only the stuck reader is dropped",
          );
        }),
    );
  });
}
