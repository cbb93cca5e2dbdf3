// fetchcgi behind a real nginx, on every runtime: one worker on a Unix socket, nginx started with
// examples/nginx.conf exactly as shipped (only its __PLACEHOLDERS__ replaced), and the standard
// front checks (test/lib/frontChecks.ts) through each of its three servers: keep-alive FastCGI
// connections, buffering off both ways, and nginx's plain defaults (a connection per request).
// Needs nginx installed (`apt-get install -y nginx`): without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { describeFront, frontAround, type FrontSpec, type Quirks, sleep, type Started } from "./lib/frontChecks.ts";
import { findFastcgiParams, findNginx, nginxUser, startNginx } from "./lib/nginx.ts";
import { templatePattern } from "./lib/server.ts";
import { APP, ROOT, type Runtime, startWorker } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/nginx.conf");

// Fails (not skips) without nginx; the per-runtime suites then fail in their before hooks too.
test("nginx and its fastcgi_params are installed", () => {
  findFastcgiParams(findNginx());
});

test("docs/nginx.md shows examples/nginx.conf as it is", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/nginx.md"), "utf8");
  assert.ok(
    doc.includes("```nginx\n" + fs.readFileSync(CONF, "utf8") + "```\n"),
    "docs/nginx.md: the config block differs from examples/nginx.conf",
  );
});

/** A worker on a Unix socket and nginx from examples/nginx.conf; `site` picks the server block the checks talk to. */
async function start(
  rt: Runtime,
  dir: string,
  site: "__PORT__" | "__STREAM_PORT__" | "__PLAIN_PORT__",
): Promise<Started> {
  const socket = path.join(dir, "app.sock");
  const worker = await startWorker(rt, [APP, "--listen", `unix:${socket}`]);
  return frontAround(worker, () =>
    startNginx({
      template: CONF,
      prefix: path.join(dir, "nginx"),
      vars: { __USER__: nginxUser(), __SOCKET__: socket },
      portVars: ["__PORT__", "__STREAM_PORT__", "__PLAIN_PORT__"],
    }), site);
}

// Debian's fastcgi_params sends HTTP_HOST $host (no port); other builds pass the Host header.
// A failed response: nginx cuts the client's body only on a keep-conn upstream (docs/nginx.md).
const quirks: Quirks = {
  serverSoftware: /^nginx\//,
  authorization: "passed",
  chunkedUpload: "buffered",
  streams: false,
  disconnectAborts: true,
  host: "either",
  failedStream: "whole",
};

const keepConn: FrontSpec = {
  name: "nginx keep-conn",
  quirks: { ...quirks, failedStream: "cut" },
  start: (rt, dir) => start(rt, dir, "__PORT__"),
  extra(it, ctx) {
    it("runs examples/nginx.conf verbatim apart from the placeholders", async () => {
      assert.match(ctx().conf!, templatePattern(fs.readFileSync(CONF, "utf8")));
    });

    it("env: the params from fastcgi_params", async () => {
      const { env } = await (await fetch(`${ctx().base}/env?q=1`)).json();
      assert.equal(env.SCRIPT_NAME, "/env");
      assert.equal(env.REQUEST_URI, "/env?q=1");
      assert.equal(env.GATEWAY_INTERFACE, "CGI/1.1");
      assert.equal(env.SERVER_PORT, new URL(ctx().base).port);
    });

    it("ctx.log reaches nginx's error log", async () => {
      assert.equal(await (await fetch(`${ctx().base}/log`)).text(), "logged");
      const deadline = performance.now() + 3000;
      while (!/FastCGI sent in stderr: "a line for the error log/.test(ctx().log())) {
        assert.ok(performance.now() < deadline, "no 'FastCGI sent in stderr' line in error.log");
        await sleep(50);
      }
    });
  },
};

describeFront(keepConn);
describeFront({
  name: "nginx buffering off",
  quirks: { ...quirks, chunkedUpload: "streamed", streams: true },
  start: (rt, dir) => start(rt, dir, "__STREAM_PORT__"),
});
describeFront({ name: "nginx plain fastcgi_pass", quirks, start: (rt, dir) => start(rt, dir, "__PLAIN_PORT__") });
