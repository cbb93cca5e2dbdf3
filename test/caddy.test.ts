// fetchcgi behind a real Caddy (reverse_proxy + transport fastcgi), on every runtime: one worker
// on a Unix socket, Caddy started with examples/Caddyfile exactly as shipped (only its
// __PLACEHOLDERS__ replaced), the standard front checks (test/lib/frontChecks.ts) and Caddy's own.
// Needs Caddy installed (`apt-get install -y caddy`): without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { assertStreamAbortReachesHandler, describeFront, frontAround, sleep } from "./lib/frontChecks.ts";
import { findBinary, startFront, templatePattern } from "./lib/server.ts";
import { acceptedOn } from "./lib/sockets.ts";
import { ROOT, startWorker } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/Caddyfile");
// app.js plus /probe, /peak, /tick and /ticks.
const PROBE = path.join(ROOT, "test/fixtures/probe.js");

const findCaddy = () =>
  findBinary(
    [process.env.CADDY, "caddy"],
    "caddy is not installed (looked for $CADDY, caddy on PATH, /usr/bin/caddy): install it, e.g. `apt-get install -y caddy`",
  );

// Fails (not skips) without Caddy; the per-runtime suites then fail in their before hooks too.
test("caddy is installed", () => {
  findCaddy();
});

test("docs/caddy.md shows examples/Caddyfile as it is", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/caddy.md"), "utf8");
  assert.ok(
    doc.includes("```caddyfile\n" + fs.readFileSync(CONF, "utf8") + "```\n"),
    "docs/caddy.md: the config block differs from examples/Caddyfile",
  );
});

describeFront({
  name: "caddy",
  // Caddy passes Authorization and Host as sent, sends CONTENT_LENGTH=-1 for a chunked upload
  // (streamed) and, having no way to tell the worker, leaves a silent handler running when its
  // client goes (a streaming one is stopped at its next write: see below).
  quirks: {
    serverSoftware: /^Caddy\/2\./,
    authorization: "passed",
    chunkedUpload: "streamed",
    streams: true,
    disconnectAborts: false,
    host: "port",
    failedStream: "whole",
  },
  async start(rt, dir) {
    const socket = path.join(dir, "app.sock");
    const worker = await startWorker(rt, [PROBE, "--listen", `unix:${socket}`]);
    const prefix = path.join(dir, "caddy");
    return frontAround(worker, () =>
      startFront({
        name: "caddy",
        bin: findCaddy(),
        template: CONF,
        confName: "Caddyfile",
        args: (conf) => ["run", "--config", conf, "--adapter", "caddyfile"],
        vars: { __SOCKET__: socket },
        portVars: ["__PORT__"],
        prefix,
        // Caddy keeps its autosave.json and other state under these: inside the prefix, not ~.
        env: { HOME: prefix, XDG_CONFIG_HOME: path.join(prefix, "config"), XDG_DATA_HOME: path.join(prefix, "data") },
      }));
  },
  extra(it, ctx) {
    const get = (p: string, init?: RequestInit) => fetch(`${ctx().base}${p}`, init);

    it("runs examples/Caddyfile verbatim apart from the placeholders", async () => {
      assert.match(ctx().conf!, templatePattern(fs.readFileSync(CONF, "utf8")));
    });

    it("env: SCRIPT_NAME empty, the whole path in PATH_INFO, request.url from REQUEST_URI", async () => {
      const { env } = await (await get("/env/sub/caf%C3%A9?q=1")).json();
      assert.equal(env.SCRIPT_NAME, "");
      assert.equal(env.PATH_INFO, "/env/sub/café");
      assert.equal(env.REQUEST_URI, "/env/sub/caf%C3%A9?q=1");
      assert.equal(env.CONTENT_LENGTH, "0");
      assert.equal(env.REQUEST_SCHEME, "http");
      assert.equal(env.SERVER_PORT, new URL(ctx().base).port);
      assert.equal(env.HTTP_X_FORWARDED_FOR, "127.0.0.1");
      const echo = await (await get("/echo/sub/path?x=%20y")).json();
      assert.equal(echo.url, `${ctx().base}/echo/sub/path?x=%20y`);
    });

    it("a chunked upload comes with CONTENT_LENGTH=-1, which the worker drops", async () => {
      const body = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("abc"));
          c.close();
        },
      });
      const probe = await (await get("/probe", { method: "PUT", body, duplex: "half" } as RequestInit)).json();
      assert.deepEqual([probe.body, probe.contentLength], ["abc", "-1"]);
      const body2 = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("abc"));
          c.close();
        },
      });
      const echo = await (await get("/echo", { method: "PUT", body: body2, duplex: "half" } as RequestInit)).json();
      assert.equal(echo.body, "abc");
      assert.equal(echo.headers["content-length"], undefined);
    });

    // Caddy writes the request body after the params; a handler may answer before reading it.
    // Deno and Bun then close the connection (the fd) at END_REQUEST, Caddy's next STDIN write
    // fails with EPIPE and it answers 502 instead of the response (Node half-closes: fine).
    const rt = ctx().rt.name;
    test(
      "a handler that ignores a 1 MiB request body still gets its response through",
      { timeout: 30000 },
      async () => {
        for (let i = 0; i < 3; i++) {
          const res = await get("/hello", { method: "POST", body: new Uint8Array(1 << 20) });
          assert.equal(res.status, 200);
          assert.equal(await res.text(), "hello");
        }
      },
    );

    it("no CGI Status header reaches the client (header_down -Status)", async () => {
      for (const p of ["/hello", "/status?code=418", "/redirect"]) {
        const res = await get(p, { redirect: "manual" });
        await res.arrayBuffer();
        assert.equal(res.headers.get("status"), null, p);
      }
    });

    it("streaming: a text/plain stream arrives in pieces too (flush_interval -1)", async () => {
      const start = performance.now();
      const res = await get("/tick?n=3&gap=400");
      const reader = res.body!.getReader();
      const first = await reader.read();
      const at = performance.now() - start;
      assert.equal(new TextDecoder().decode(first.value), "tick\n");
      let text = "tick\n";
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      assert.equal(text, "tick\n".repeat(3));
      assert.ok(
        performance.now() - start - at >= 600,
        `first piece at ${at} ms, end at ${performance.now() - start} ms: not streamed`,
      );
    });

    it("a client that leaves a streaming response aborts request.signal at the handler's next write", async () => {
      await assertStreamAbortReachesHandler(get);
    });

    it("one FastCGI connection per request, closed after it (no keep-alive)", async () => {
      const all = await Promise.all(
        Array.from({ length: 8 }, (_, i) => get(`/probe?ms=300&tag=${i}`).then((r) => r.json())),
      );
      assert.deepEqual(all.map((r) => [r.tag, r.requestId]), Array.from({ length: 8 }, (_, i) => [String(i), 1]));
      // (The disconnect check's /slow handler may hold its connection a few seconds more.)
      const socket = ctx().worker!.address.replace(/^unix:/, "");
      const deadline = performance.now() + 5000;
      while (acceptedOn(socket) > 0) {
        assert.ok(
          performance.now() < deadline,
          `${acceptedOn(socket)} FastCGI connections still open 5 s after the last response`,
        );
        await sleep(50);
      }
    });
  },
});
