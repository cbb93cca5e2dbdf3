// fetchcgi behind a real lighttpd (mod_fastcgi to a worker's address), on every runtime: one worker
// on a Unix socket, lighttpd started with examples/lighttpd.conf exactly as shipped (only its
// __PLACEHOLDERS__ replaced), and the standard front checks (test/lib/frontChecks.ts) through
// its default (buffered) port and its streaming port.
// Needs lighttpd installed (`apt-get install -y lighttpd`): without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { test } from "node:test";
import { describeFront, type FrontSpec, type Quirks, sleep, type Started } from "./lib/frontChecks.ts";
import { findLighttpd, lighttpdModules, startLighttpd } from "./lib/lighttpd.ts";
import { templatePattern } from "./lib/server.ts";
import { APP, ROOT, type Runtime, startWorker } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/lighttpd.conf");

test("lighttpd is installed", () => {
  findLighttpd();
  lighttpdModules();
});

test("docs/lighttpd.md shows examples/lighttpd.conf as it is", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/lighttpd.md"), "utf8");
  assert.ok(
    doc.includes("```lighttpd\n" + fs.readFileSync(CONF, "utf8") + "```\n"),
    "docs/lighttpd.md: the config block differs from examples/lighttpd.conf",
  );
});

/** A worker on a Unix socket and lighttpd from examples/lighttpd.conf; `site` picks the port the checks talk to. */
async function start(rt: Runtime, dir: string, site: "__PORT__" | "__STREAM_PORT__"): Promise<Started> {
  const socket = path.join(dir, "app.sock");
  // 666: lighttpd runs as another user (www-data) when the tests run as root.
  const worker = await startWorker(rt, [APP, "--listen", `unix:${socket}`, "--socket-mode", "666"]);
  try {
    const lighttpd = await startLighttpd({
      template: CONF,
      dir,
      prefix: path.join(dir, "lighttpd"),
      vars: { __SOCKET__: socket },
      portVars: ["__PORT__", "__STREAM_PORT__"],
    });
    return {
      base: `http://127.0.0.1:${lighttpd.ports[site]}`,
      worker,
      conf: lighttpd.conf,
      log: lighttpd.log,
      stop: async () => {
        await lighttpd.stop();
        // Not graceful: /slow handlers lighttpd never told about would hold a graceful stop up.
        await worker.stop(500);
      },
    };
  } catch (err) {
    await worker.stop();
    throw err;
  }
}

/**
 * Starts a POST of 2 MB with a Content-Length to /slow, sends `sent` bytes, then leaves. /slow reads
 * none of it, or all that came after `readAfter` ms.
 */
function leaveMidUpload(base: string, sent = 128 * 1024, readAfter?: number): Promise<void> {
  return new Promise((resolve) => {
    const read = readAfter === undefined ? "" : `&read=${readAfter}`;
    const req = http.request(`${base}/slow?ms=3000${read}`, {
      method: "POST",
      headers: { "content-length": "2000000" },
    });
    req.on("error", () => {});
    req.on("close", () => resolve());
    req.write(Buffer.alloc(sent, 120));
    setTimeout(() => req.destroy(), 300);
  });
}

const aborts = async (base: string): Promise<number> => (await (await fetch(`${base}/aborts`)).json()).length;

// lighttpd tells the worker nothing when a client leaves a request that is not sending anything
// (the /slow check); it closes the FastCGI connection only while it is forwarding something.
// uploadBytes: lighttpd sends a spooled body at disk speed, and a worker's first large upload
// then grows its peak RSS by 25-50 MiB (GC heap warm-up, the same for 48 or 192 MiB; later
// uploads add little), too close to the 48 MiB default's bound; 96 MiB still fails if the body
// is held whole.
const quirks: Quirks = {
  serverSoftware: /^lighttpd\/1\./,
  authorization: "passed",
  chunkedUpload: "buffered",
  streams: false,
  disconnectAborts: false,
  host: "port",
  uploadBytes: 96 * 1024 * 1024,
  failedStream: "whole",
};

const buffered: FrontSpec = {
  name: "lighttpd",
  quirks,
  start: (rt, dir) => start(rt, dir, "__PORT__"),
  extra(it, ctx) {
    it("runs examples/lighttpd.conf verbatim apart from the placeholders", async () => {
      assert.match(ctx().conf!, templatePattern(fs.readFileSync(CONF, "utf8")));
    });

    it("env: the params lighttpd sends", async () => {
      const base = ctx().base;
      const { env } = await (await fetch(`${base}/env/sub?q=1`, { headers: { authorization: "Bearer t0k3n" } })).json();
      assert.equal(env.REQUEST_URI, "/env/sub?q=1");
      // fix-root-scriptname: the whole path is PATH_INFO.
      assert.equal(env.SCRIPT_NAME, "");
      assert.equal(env.PATH_INFO, "/env/sub");
      assert.equal(env.GATEWAY_INTERFACE, "CGI/1.1");
      assert.equal(env.REDIRECT_STATUS, "200");
      assert.equal(env.SERVER_PORT, new URL(base).port);
      assert.equal(env.HTTP_HOST, new URL(base).host);
      assert.equal(env.HTTP_AUTHORIZATION, "Bearer t0k3n");
      // lighttpd sends CONTENT_LENGTH=0 for a GET; the handler still sees no body.
      assert.equal(env.CONTENT_LENGTH, "0");
      assert.equal(env.REMOTE_USER, undefined);
    });

    it("ctx.log reaches lighttpd's error log", async () => {
      assert.equal(await (await fetch(`${ctx().base}/log`)).text(), "logged");
      const deadline = performance.now() + 3000;
      while (!/FastCGI-stderr:a line for the error log/.test(ctx().log())) {
        assert.ok(performance.now() < deadline, "no 'FastCGI-stderr:' line in error.log");
        await sleep(50);
      }
    });

    it("a client that leaves mid-upload never reaches the worker (the body is read whole first)", async () => {
      const before = await aborts(ctx().base);
      await leaveMidUpload(ctx().base);
      await sleep(600);
      assert.equal(await aborts(ctx().base), before);
    });
  },
};

const streaming: FrontSpec = {
  name: "lighttpd streaming",
  quirks: { ...quirks, streams: true, failedStream: "cut" },
  start: (rt, dir) => start(rt, dir, "__STREAM_PORT__"),
  extra(it, ctx) {
    it("an upload with a Content-Length streams: a client leaving mid-upload aborts request.signal", async () => {
      const before = await aborts(ctx().base);
      await leaveMidUpload(ctx().base);
      const deadline = performance.now() + 3500;
      while ((await aborts(ctx().base)) === before) {
        assert.ok(performance.now() < deadline, "request.signal did not fire: the request had not reached the worker");
        await sleep(100);
      }
    });

    // lighttpd forwards the 400 KB and then closes the connection, but the worker has stopped
    // reading it (more than --body-buffer, 256 KiB, unread by the handler), so it cannot see the
    // close: a paused socket is not polled, and no runtime offers POLLRDHUP to see a peer's close
    // without reading. docs/lighttpd.md's known limitation: the signal fires once the handler reads on.
    it("a client that leaves after more than --body-buffer of an unread upload: request.signal fires once the handler reads on", async () => {
      const before = await aborts(ctx().base);
      const readAt = performance.now() + 1500;
      await leaveMidUpload(ctx().base, 400 * 1024, 1500);
      await sleep(readAt - performance.now() - 300);
      assert.equal(
        await aborts(ctx().base),
        before,
        "request.signal fired while the connection was paused: the limitation is gone, update docs/lighttpd.md",
      );
      const deadline = readAt + 2500;
      while ((await aborts(ctx().base)) === before) {
        assert.ok(performance.now() < deadline, "request.signal did not fire within 2.5 s of the handler reading on");
        await sleep(100);
      }
    });
  },
};

describeFront(buffered);
describeFront(streaming);
