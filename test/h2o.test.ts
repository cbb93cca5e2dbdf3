// fetchcgi behind a real h2o, on every runtime, through the standard front checks
// (test/lib/frontChecks.ts): examples/h2o.conf (fastcgi.connect to a worker on a Unix socket with
// kept-alive connections, and to one on TCP with h2o's defaults) and examples/h2o-spawn.conf
// (fastcgi.spawn starts the worker on fd 0 through examples/fetchcgi-wrapper.sh), each run exactly
// as shipped, only the __PLACEHOLDERS__ replaced.
// Needs h2o installed (`apt-get install -y h2o`): without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { test } from "node:test";
import { describeFront, type ItFn, type Quirks, sleep, type Started } from "./lib/frontChecks.ts";
import { findH2o, startH2o } from "./lib/h2o.ts";
import { acceptedOn, peersOnPort, socketPathOf } from "./lib/sockets.ts";
import { frontUser, templatePattern } from "./lib/server.ts";
import { WRAPPER, writeWrapper } from "./lib/wrapper.ts";
import { APP, ROOT, type Runtime, startWorker, type WorkerProc } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/h2o.conf");
const SPAWN_CONF = path.join(ROOT, "examples/h2o-spawn.conf");
const read = (f: string) => fs.readFileSync(f, "utf8");

test("h2o is installed", () => {
  findH2o();
});

test("docs/h2o.md shows the example configs and the wrapper as they are", () => {
  const doc = read(path.join(ROOT, "docs/h2o.md"));
  assert.ok(doc.includes("```yaml\n" + read(CONF) + "```\n"), "docs/h2o.md: the block differs from examples/h2o.conf");
  assert.ok(
    doc.includes("```yaml\n" + read(SPAWN_CONF) + "```\n"),
    "docs/h2o.md: the block differs from examples/h2o-spawn.conf",
  );
  assert.ok(
    doc.includes("```sh\n" + read(WRAPPER) + "```\n"),
    "docs/h2o.md: the block differs from examples/fetchcgi-wrapper.sh",
  );
});

type Site = "unix" | "tcp";

/** Two workers (Unix socket, TCP) and h2o from examples/h2o.conf; `site` picks the host the checks talk to. */
async function startConnect(rt: Runtime, dir: string, site: Site): Promise<Started & { socket: string }> {
  const socket = path.join(dir, "app.sock");
  const workers: WorkerProc[] = [];
  const stopWorkers = () => Promise.all(workers.map((w) => w.stop()));
  try {
    workers.push(await startWorker(rt, [APP, "--listen", `unix:${socket}`]));
    workers.push(await startWorker(rt, [APP, "--listen", "127.0.0.1:0"]));
    const h2o = await startH2o({
      template: CONF,
      prefix: path.join(dir, "h2o"),
      vars: { __USER__: frontUser(), __SOCKET__: socket, __WORKER_PORT__: workers[1].address.split(":").pop()! },
      portVars: ["__PORT__", "__TCP_PORT__"],
    });
    return {
      base: `http://127.0.0.1:${h2o.ports[site === "unix" ? "__PORT__" : "__TCP_PORT__"]}`,
      worker: workers[site === "unix" ? 0 : 1],
      conf: h2o.conf,
      socket,
      log: h2o.log,
      stop: async () => {
        await h2o.stop();
        await stopWorkers();
      },
    };
  } catch (err) {
    await stopWorkers();
    throw err;
  }
}

/** h2o from examples/h2o-spawn.conf; h2o starts the worker through the wrapper. */
async function startSpawn(rt: Runtime, dir: string): Promise<Started> {
  const h2o = await startH2o({
    template: SPAWN_CONF,
    prefix: path.join(dir, "h2o"),
    vars: { __USER__: frontUser(), __WRAPPER__: writeWrapper(rt, dir) },
    portVars: ["__PORT__"],
  });
  const base = `http://127.0.0.1:${h2o.ports.__PORT__}`;
  try {
    // h2o's socket dir (/tmp/h2o.fcgisock.*): its kill-on-close helper would remove it, but
    // stop() kills h2o's whole process group at once, helper included.
    const { pid } = await (await fetch(`${base}/rss`)).json();
    const sockDir = path.dirname(socketPathOf(pid));
    return {
      base,
      conf: h2o.conf,
      log: h2o.log,
      // stop() ends h2o's process group, the worker included.
      stop: async () => {
        await h2o.stop();
        fs.rmSync(sockDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await h2o.stop();
    throw err;
  }
}

// h2o buffers the whole request body (a chunked upload arrives with CONTENT_LENGTH) but passes
// the response on as it comes; a silent handler is never told that the client left. It sends a
// buffered body at full speed, so a Node 24 or Deno worker's peak RSS grows by 35-42 MiB of
// not-yet-collected read buffers on a 48 MiB upload (a slow reader stays flat): 96 MiB keeps
// the check meaningful (the body, if held whole, would show).
const quirks: Quirks = {
  serverSoftware: /^h2o\/2\./,
  authorization: "passed",
  chunkedUpload: "buffered",
  streams: true,
  disconnectAborts: false,
  host: "port",
  uploadBytes: 96 * 1024 * 1024,
  failedStream: "whole",
};

/** Waits until `fn` holds, polling. */
async function until(fn: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!fn()) {
    assert.ok(performance.now() < deadline, what);
    await sleep(50);
  }
}

/** Checks every h2o variant shares: the params it sends, ctx.log in error-log, the config as shipped. */
function common(it: ItFn, ctx: () => Started & { rt: Runtime }, template: string): void {
  it(`runs ${path.basename(template)} verbatim apart from the placeholders`, async () => {
    assert.match(ctx().conf!, templatePattern(read(template)));
  });

  it("env: h2o's params (empty SCRIPT_NAME, the path in PATH_INFO, no GATEWAY_INTERFACE)", async () => {
    const { env } = await (await fetch(`${ctx().base}/env/sub?q=1`)).json();
    assert.equal(env.SCRIPT_NAME, "");
    assert.equal(env.PATH_INFO, "/env/sub");
    assert.equal(env.REQUEST_URI, "/env/sub?q=1");
    assert.equal(env.SERVER_PORT, new URL(ctx().base).port);
    assert.equal(env.HTTP_HOST, new URL(ctx().base).host);
    assert.equal(env.GATEWAY_INTERFACE, undefined);
    assert.equal(env.SCRIPT_FILENAME, undefined);
  });

  it("ctx.log reaches h2o's error-log", async () => {
    assert.equal(await (await fetch(`${ctx().base}/log`)).text(), "logged");
    await until(
      () => /\[lib\/handler\/fastcgi\.c\] in request:\/log:a line for the error log/.test(ctx().log()),
      "no '[lib/handler/fastcgi.c] in request:/log:' line in error.log",
    );
  });

  it("an absolute-form request line: h2o passes it as REQUEST_URI, the URL still has the right path", async () => {
    const { port } = new URL(ctx().base);
    const raw = await rawHttp(
      Number(port),
      `GET http://127.0.0.1:${port}/echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const echo = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4).replace(/^[0-9a-f]+\r\n|\r\n[0-9a-f]+\r\n/g, ""));
    assert.equal(echo.url, `http://127.0.0.1:${port}/echo?x=1`);
  });
}

/** One HTTP/1.1 exchange on a raw socket (for request lines fetch() cannot send). */
async function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const s = net.connect(port, "127.0.0.1", () => s.write(request));
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
  });
}

describeFront({
  name: "h2o fastcgi.connect unix keep-alive",
  quirks,
  start: (rt, dir) => startConnect(rt, dir, "unix"),
  extra(it, ctx) {
    common(it, ctx, CONF);
    it("fastcgi.timeout.keepalive: h2o keeps FastCGI connections open and reuses them", async () => {
      const { socket } = ctx() as unknown as { socket: string };
      assert.equal(await (await fetch(`${ctx().base}/hello`)).text(), "hello");
      // The worker closes a connection after END_REQUEST unless FCGI_KEEP_CONN is set: an
      // open idle connection proves h2o set it and pooled the connection.
      await sleep(200);
      const pooled = acceptedOn(socket);
      assert.ok(pooled >= 1, "no idle FastCGI connection left open");
      for (let i = 0; i < 5; i++) assert.equal(await (await fetch(`${ctx().base}/hello`)).text(), "hello");
      await sleep(200);
      assert.ok(
        acceptedOn(socket) <= pooled,
        `sequential requests opened new connections: ${pooled} → ${acceptedOn(socket)}`,
      );
    });
  },
});

describeFront({
  name: "h2o fastcgi.connect tcp",
  quirks,
  start: (rt, dir) => startConnect(rt, dir, "tcp"),
  extra(it, ctx) {
    it("a client leaving a streamed response: h2o closes the FastCGI connection at the next write; the worker lives on", async () => {
      const port = Number(ctx().worker!.address.split(":").pop());
      // Earlier checks may still hold connections (a silent /slow is never told its client left).
      const earlier = peersOnPort(port);
      const ac = new AbortController();
      const res = await fetch(`${ctx().base}/stream?n=40&gap=100`, { signal: ac.signal });
      const reader = res.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /^data: 1/);
      const mine = [...peersOnPort(port)].filter((p) => !earlier.has(p));
      assert.equal(mine.length, 1, `new FastCGI connections: ${mine}`);
      ac.abort();
      // The stream would run 4 s more; h2o drops the connection at its next chunk.
      await until(
        () => !peersOnPort(port).has(mine[0]),
        "the FastCGI connection stayed open after the client left",
        1500,
      );
      assert.equal(await (await fetch(`${ctx().base}/hello`)).text(), "hello");
      assert.equal(ctx().worker!.proc.exitCode, null);
    });

    it("h2o's default: a new FastCGI connection for every request", async () => {
      const ports = new Set<number>();
      for (let i = 0; i < 4; i++) ports.add((await (await fetch(`${ctx().base}/env`)).json()).remote.port);
      assert.equal(ports.size, 4, `FastCGI connections from ports ${[...ports]}`);
    });
  },
});

describeFront({
  name: "h2o fastcgi.spawn",
  quirks,
  start: startSpawn,
  extra(it, ctx) {
    common(it, ctx, SPAWN_CONF);
    it("one spawned worker, serving on the socket h2o passed on fd 0, as __USER__", async () => {
      const pids = new Set<number>();
      await Promise.all(
        Array.from({ length: 6 }, async () => pids.add((await (await fetch(`${ctx().base}/rss`)).json()).pid)),
      );
      assert.equal(pids.size, 1, `pids ${[...pids]}`);
      const [pid] = pids;
      assert.match(socketPathOf(pid), /^\/tmp\/h2o\.fcgisock\.\w+\/_$/);
      assert.equal(fs.statSync(`/proc/${pid}`).uid, process.getuid!());
      // The worker's own stderr is h2o's stderr (not error-log).
      assert.match(ctx().log().split("--- error.log ---")[0], /fetchcgi: serving \S+ on fd:0 /);
      // Kept-alive: after these requests h2o pools its connections instead of closing them.
      await sleep(200);
      assert.ok(acceptedOn(socketPathOf(pid)) >= 1, "no pooled FastCGI connection");
    });
  },
});
