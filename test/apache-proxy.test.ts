// fetchcgi behind Apache httpd's mod_proxy_fcgi, on every runtime: one worker on a Unix socket,
// apache2 started with examples/apache-proxy-fcgi.conf exactly as shipped (only its
// __PLACEHOLDERS__ replaced), and the standard front checks (test/lib/frontChecks.ts) through both
// of its virtual hosts: mod_proxy_fcgi's defaults, and enablereuse + flushpackets + CGIPassAuth.
// Needs `apt-get install -y apache2`: without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { apacheModules, findApache, openDir, startApache } from "./lib/apache.ts";
import { describeFront, frontAround, type FrontSpec, type Quirks, sleep, type Started } from "./lib/frontChecks.ts";
import { templatePattern } from "./lib/server.ts";
import { APP, ROOT, type Runtime, startWorker } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/apache-proxy-fcgi.conf");
const MODULES = {
  "mod_mpm_event.so": "apache2",
  "mod_authz_core.so": "apache2",
  "mod_proxy.so": "apache2",
  "mod_proxy_fcgi.so": "apache2",
};

// Fails (not skips) without Apache; the per-runtime suites then fail in their before hooks too.
test("apache2 and mod_proxy_fcgi are installed", () => {
  findApache();
  apacheModules(MODULES);
});

test("docs/apache.md shows examples/apache-proxy-fcgi.conf as it is", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/apache.md"), "utf8");
  assert.ok(
    doc.includes("```apache\n" + fs.readFileSync(CONF, "utf8") + "```\n"),
    "docs/apache.md: the config block differs from examples/apache-proxy-fcgi.conf",
  );
});

const socketOf = (conf: string) => /"unix:([^|"]+)\|/.exec(conf)![1];

/** Connections the worker has accepted on `socket` and not closed yet, by inode (Linux: /proc/net/unix lists them under the socket's path). */
function acceptedOn(socket: string): Set<string> {
  const lines = fs.readFileSync("/proc/net/unix", "utf8").split("\n");
  // Num RefCount Protocol Flags Type St Inode Path; St 03 = connected (01 is the listener).
  return new Set(
    lines.map((l) => l.trim().split(/\s+/)).filter((f) => f[7] === socket && f[5] === "03").map((f) => f[6]),
  );
}

// Bun and Deno close a connection without FCGI_KEEP_CONN at once after END_REQUEST, before the
// front's empty STDIN record has come in; mod_proxy_fcgi writes that record for a GET only after a
// poll, gets EPIPE and answers 503 instead of the worker's response (2-5 % of GETs here).

/** A worker on a Unix socket and Apache from examples/apache-proxy-fcgi.conf; `site` picks the virtual host. */
async function start(rt: Runtime, dir: string, site: "__PORT__" | "__STREAM_PORT__"): Promise<Started> {
  openDir(dir);
  const socket = path.join(dir, "app.sock");
  // Apache's children run as another account (www-data when we are root).
  const worker = await startWorker(rt, [APP, "--listen", `unix:${socket}`, "--socket-mode", "666"]);
  return frontAround(worker, () =>
    startApache({
      template: CONF,
      prefix: path.join(dir, "apache"),
      vars: { __SOCKET__: socket },
      portVars: ["__PORT__", "__STREAM_PORT__"],
      modules: MODULES,
    }), site);
}

// Both hosts stream uploads (no CONTENT_LENGTH for a chunked one); /slow writes nothing, so
// Apache never notices a client that left (it only finds out when it writes).
const quirks: Quirks = {
  serverSoftware: /^Apache\/2\.4\./,
  authorization: "dropped",
  chunkedUpload: "streamed",
  streams: false,
  disconnectAborts: false,
  host: "port",
  failedStream: "cut",
};

const plain: FrontSpec = {
  name: "apache mod_proxy_fcgi",
  quirks,
  start: (rt, dir) => start(rt, dir, "__PORT__"),
  extra(it, ctx) {
    const rt = ctx().rt.name; // known when the checks are registered
    it("runs examples/apache-proxy-fcgi.conf verbatim apart from the placeholders", async () => {
      assert.match(ctx().conf!, templatePattern(fs.readFileSync(CONF, "utf8")));
    });

    it("env: the params mod_proxy_fcgi sends", async () => {
      const { env } = await (await fetch(`${ctx().base}/env/sub/path?q=1`)).json();
      assert.equal(env.REQUEST_URI, "/env/sub/path?q=1");
      assert.equal(env.SCRIPT_NAME, "/env/sub/path");
      assert.equal(env.PATH_INFO, undefined);
      assert.equal(env.SCRIPT_FILENAME, "proxy:fcgi://fetchcgi/env/sub/path");
      assert.equal(env.GATEWAY_INTERFACE, "CGI/1.1");
      assert.equal(env.REQUEST_SCHEME, "http");
      assert.equal(env.SERVER_PORT, new URL(ctx().base).port);
      assert.equal(env.HTTP_AUTHORIZATION, undefined);
    });

    it("the worker's Content-Length is replaced by chunked encoding", async () => {
      const res = await fetch(`${ctx().base}/big?n=100`);
      assert.equal(res.headers.get("transfer-encoding"), "chunked");
      assert.equal(res.headers.get("content-length"), null);
      assert.equal((await res.text()).length, 100);
    });

    it("plain: each FastCGI connection is closed after its request; enablereuse: kept open", async () => {
      const socket = socketOf(ctx().conf!);
      const before = acceptedOn(socket); // e.g. the /slow request of the disconnect check, still running
      const opened = () => [...acceptedOn(socket)].filter((inode) => !before.has(inode));
      for (let i = 0; i < 4; i++) assert.equal(await (await fetch(`${ctx().base}/hello`)).text(), "hello");
      const deadline = performance.now() + 3000;
      while (opened().length > 0) {
        assert.ok(performance.now() < deadline, `${opened().length} connections stayed open`);
        await sleep(50);
      }
      // The enablereuse host has not been used in this suite: its first requests open connections, which stay.
      const livePort = [...ctx().conf!.matchAll(/^Listen 127\.0\.0\.1:(\d+)$/gm)][1][1];
      for (let i = 0; i < 4; i++) {
        assert.equal(await (await fetch(`http://127.0.0.1:${livePort}/hello`)).text(), "hello");
      }
      await sleep(200);
      assert.ok(opened().length >= 1, "no FastCGI connection stayed open behind enablereuse=on");
    });

    test("200 GETs in a row all get the worker's answer", { timeout: 30000 }, async () => {
      let failed = 0;
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`${ctx().base}/hello`);
        if ((await res.text()) !== "hello") failed++;
      }
      assert.equal(failed, 0, `${failed} of 200 GETs failed (Apache: AH01075 ... (sending empty stdin))`);
    });

    it("ctx.log reaches Apache's error log", async () => {
      assert.equal(await (await fetch(`${ctx().base}/log`)).text(), "logged");
      const deadline = performance.now() + 3000;
      while (!/AH01071: Got error 'a line for the error log/.test(ctx().log())) {
        assert.ok(performance.now() < deadline, "no 'AH01071: Got error' line in error.log");
        await sleep(50);
      }
    });
  },
};

const live: FrontSpec = {
  name: "apache mod_proxy_fcgi enablereuse+flushpackets",
  quirks: { ...quirks, authorization: "passed", streams: true },
  start: (rt, dir) => start(rt, dir, "__STREAM_PORT__"),
};

describeFront(plain);
describeFront(live);
