// Bursts of connections, on every runtime: what --max-conns and --backlog do when reached.
//   - the listen backlog is the system's largest (net.core.somaxconn), or --backlog;
//   - at --max-conns the worker takes no more connections: the next one waits, unanswered but
//     open, and is served once one closes (it used to be accepted and closed: a 502 at nginx);
//   - a connection the worker closed no longer counts while it waits for the peer's EOF;
//   - Node and Bun, which accept on their own, hold at most --backlog waiting connections;
//   - 2000 clients at once through nginx, with a FastCGI connection per request and with a
//     keep-alive upstream: not one error.
// Needs nginx, wrk and ss (`apt-get install -y nginx wrk iproute2`): without them these tests fail.
//
//   npm run build && node --test test/burst.test.ts

import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { RawConn, requestBytes } from "./lib/fcgi.ts";
import { nginxUser, startNginx } from "./lib/nginx.ts";
import { waitFor } from "./lib/proc.ts";
import { findBinary } from "./lib/server.ts";
import { APP, ROOT, type Runtime, runtimes, startWorker, tmpDir, type WorkerProc } from "./lib/workers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SOMAXCONN = Number(fs.readFileSync("/proc/sys/net/core/somaxconn", "utf8"));

/** The backlog of the socket a worker listens on: ss's Send-Q of a listening socket. */
function listenBacklog(address: string): number {
  const args = address.startsWith("unix:") ? ["-Hlx"] : ["-Hltn", `sport = :${address.split(":").pop()}`];
  const where = address.startsWith("unix:") ? address.slice(5) : "LISTEN";
  const line = execFileSync("ss", args, { encoding: "utf8" }).split("\n").find((l) => l.includes(where));
  assert.ok(line, `no listening socket for ${address} in ss's output`);
  const f = line.trim().split(/\s+/);
  return Number(f[f.indexOf("LISTEN") + 2]);
}

/** A connection that has sent one request which keeps it open (FCGI_KEEP_CONN). */
async function keptRequest(address: string): Promise<RawConn> {
  const c = await RawConn.connect(address);
  c.send(requestBytes(1, "GET", "/hello", { keepConn: true }));
  return c;
}

async function withWorker(rt: Runtime, args: string[], body: (w: WorkerProc) => Promise<void>): Promise<void> {
  const w = await startWorker(rt, [APP, ...args]);
  try {
    await body(w);
  } catch (err) {
    (err as Error).message += `\n--- ${rt.name} worker log ---\n${w.log()}`;
    throw err;
  } finally {
    await w.stop();
  }
}

for (const rt of runtimes()) {
  describe(`bursts on ${rt.name}`, () => {
    test("listens with the system's largest backlog, or --backlog's", async () => {
      await withWorker(rt, ["--listen", ":0"], async (w) => assert.equal(listenBacklog(w.address), SOMAXCONN));
      await withWorker(
        rt,
        ["--listen", ":0", "--backlog", "100"],
        async (w) => assert.equal(listenBacklog(w.address), 100),
      );
      // Deno.listen's Unix listener has a fixed backlog (README, --backlog).
      const unix = `unix:${path.join(tmpDir(), "app.sock")}`;
      await withWorker(
        rt,
        ["--listen", unix],
        async (w) => assert.equal(listenBacklog(w.address), rt.name === "deno" ? Math.min(1024, SOMAXCONN) : SOMAXCONN),
      );
      // A socket inherited on fd 0 (spawn-fcgi, mod_fcgid), listening with the spawner's backlog.
      const inherited = net.createServer();
      const socketPath = path.join(tmpDir(), "fd0.sock");
      await new Promise<void>((resolve) => inherited.listen({ path: socketPath, backlog: 5 }, resolve));
      try {
        const fd = (inherited as unknown as { _handle: { fd: number } })._handle.fd;
        const w = await startWorker(rt, [APP], { stdin: fd });
        try {
          assert.equal(listenBacklog(`unix:${socketPath}`), SOMAXCONN);
        } finally {
          await w.stop();
        }
      } finally {
        inherited.close();
      }
    });

    test("at --max-conns the next connection waits, open and unanswered, and is served once one closes", async () => {
      await withWorker(rt, ["--listen", ":0", "--max-conns", "2"], async (w) => {
        const served = [await keptRequest(w.address), await keptRequest(w.address)];
        for (const c of served) await c.response(1);
        const waiting = await keptRequest(w.address);
        await sleep(500);
        assert.equal(waiting.ends(1).length, 0, "answered past --max-conns");
        assert.equal(waiting.closed, false, "closed instead of left waiting");
        served[0].close();
        await waiting.response(1);
        for (const c of [...served, waiting]) c.close();
        assert.match(w.log(), /2 connections open \(maxConns\): new connections wait until one closes/);
        assert.doesNotMatch(w.log(), /connection refused/);
      });
    });

    test("a connection the worker closed does not count while it waits for the peer's EOF", async () => {
      await withWorker(rt, ["--listen", ":0", "--max-conns", "1"], async (w) => {
        const [host, port] = [w.address.slice(4, w.address.lastIndexOf(":")), Number(w.address.split(":").pop())];
        // Asks without FCGI_KEEP_CONN, then neither reads to the end nor closes: the worker sends
        // its answer, shuts its side and lingers (up to 2 s) for an EOF that does not come.
        const lingering = net.connect({ host, port, allowHalfOpen: true });
        let released = false;
        lingering.on("close", () => (released = true)).on("error", () => {}).resume();
        await new Promise((r) => lingering.once("connect", r));
        lingering.write(requestBytes(1, "GET", "/hello"));
        await new Promise((r) => lingering.once("end", r)); // the worker's FIN
        const next = await keptRequest(w.address);
        await next.response(1, 10000);
        assert.equal(released, false, "the next connection was served only once the lingering one was released");
        next.close();
        lingering.destroy();
      });
    });

    // Deno leaves waiting connections in the kernel's queue, whose length the first test checks.
    test("Node and Bun hold at most --backlog waiting connections; past that one is refused, logged", {
      skip: rt.name === "deno" && "Deno does not hold connections",
    }, async () => {
      await withWorker(rt, ["--listen", ":0", "--max-conns", "1", "--backlog", "1"], async (w) => {
        const served = await keptRequest(w.address);
        await served.response(1);
        const waiting = await keptRequest(w.address);
        // Refused at once (Bun resets it): the reset may even come before connect() reports success.
        const refused = await keptRequest(w.address).catch((err: { code?: string }) => {
          if (err.code !== "ECONNRESET") throw err;
          return null;
        });
        if (refused) {
          await refused.waitClosed();
          assert.equal(refused.ends(1).length, 0);
        }
        assert.equal(waiting.closed, false);
        served.close();
        await waiting.response(1);
        waiting.close();
        const line = /connection refused: 1 connections already wait for the worker \(--backlog\)/;
        await waitFor(() => line.test(w.log()), 5000, `the refusal logged; log:\n${w.log()}`);
      });
    });

    // Node and Bun on the Unix socket of examples/nginx.conf, every runtime on TCP: Deno's Unix
    // listener has a fixed backlog of 1024, too short for 2000 clients at --max-conns 1024 (README).
    for (const transport of rt.name === "deno" ? ["tcp"] : ["unix", "tcp"]) {
      test(`2000 clients at once through nginx (${transport}), a connection per request and a keep-alive upstream: no errors`, async () => {
        const dir = tmpDir();
        const listen = transport === "unix" ? `unix:${path.join(dir, "app.sock")}` : ":0";
        await withWorker(rt, ["--listen", listen], async (w) => {
          const upstream = transport === "unix" ? w.address : w.address.slice(4);
          const nginx = await startNginx({
            template: path.join(ROOT, "test/fixtures/nginx-burst.conf"),
            prefix: path.join(dir, "nginx"),
            vars: { __USER__: nginxUser(), __UPSTREAM__: upstream },
            portVars: ["__PLAIN_PORT__", "__KEEP_PORT__"],
          });
          try {
            for (const port of ["__PLAIN_PORT__", "__KEEP_PORT__"]) {
              const r = await wrk(`http://127.0.0.1:${nginx.ports[port]}/hello`, 2000, 3);
              assert.ok(r.requests > 0, r.output);
              assert.equal(
                r.errors,
                0,
                `${port === "__PLAIN_PORT__" ? "per-request connections" : "keep-alive upstream"}: ${r.output}`,
              );
            }
            assert.doesNotMatch(nginx.log(), /\[(error|crit|alert|emerg)\]/, "nginx logged errors");
          } catch (err) {
            (err as Error).message += `\n--- nginx log ---\n${nginx.log().slice(-3000)}`;
            throw err;
          } finally {
            await nginx.stop();
          }
        });
      });
    }
  });
}

const WRK = findBinary([process.env.WRK, "wrk"], "wrk is not installed: `apt-get install -y wrk`");

/** `seconds` of load from `clients` keep-alive clients; errors: non-2xx answers and socket errors of every kind. */
async function wrk(
  url: string,
  clients: number,
  seconds: number,
): Promise<{ requests: number; errors: number; output: string }> {
  // Generous timeout: a request that waits its turn is slow, not failed (wrk's default is 2 s).
  const { stdout } = await promisify(execFile)(WRK, ["-t2", `-c${clients}`, `-d${seconds}s`, "--timeout", "30s", url], {
    timeout: (seconds + 60) * 1000,
  });
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  return { requests, errors: non2xx + socketErrors, output: stdout };
}
