// fetchcgi behind a real nginx, on every runtime: one worker on a Unix socket, nginx started with
// examples/nginx.conf exactly as shipped (only its __PLACEHOLDERS__ replaced), and Fetch clients
// talking HTTP to nginx. Needs nginx installed (`apt-get install -y nginx`): without it every test
// here fails, on purpose.
//
//   npm run build && node --test test/nginx.test.ts

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { findFastcgiParams, findNginx, type Nginx, nginxUser, startNginx } from "./lib/nginx.ts";
import { APP, ROOT, runtimes, startWorker, tmpDir, type WorkerProc } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/nginx.conf");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bigBody(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = 97 + (i % 26);
  return bytes;
}

/** A body stream of `total` bytes in `chunk`-sized pieces, with a pause now and then so that it really streams. */
function uploadStream(total: number, chunk: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(chunk, total - sent);
      const piece = new Uint8Array(n).fill(120);
      sent += n;
      if ((sent / chunk) % 16 === 0) await sleep(5);
      c.enqueue(piece);
    },
  });
}

// Fails (not skips) without nginx; the per-runtime suites then fail in their before hooks too.
test("nginx and its fastcgi_params are installed", () => {
  findFastcgiParams(findNginx());
});

test("docs/nginx.md shows examples/nginx.conf as it is", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/nginx.md"), "utf8");
  assert.ok(doc.includes("```nginx\n" + fs.readFileSync(CONF, "utf8") + "```\n"), "docs/nginx.md: the config block differs from examples/nginx.conf");
});

for (const rt of runtimes()) {
  describe(`nginx → ${rt.name}`, () => {
    let dir = "";
    let worker: WorkerProc | undefined;
    let nginx: Nginx | undefined;
    let base = ""; // buffered server
    let live = ""; // streaming server (fastcgi_buffering off, fastcgi_request_buffering off)
    let port = 0;

    /** Runs `fn`; on failure, adds the worker's and nginx's logs to the error. */
    function it(name: string, fn: () => Promise<void>, timeout = 20000): void {
      test(name, { timeout }, async () => {
        try {
          await fn();
        } catch (err) {
          const tail = (s: string) => s.split("\n").slice(-30).join("\n");
          const e = err as Error;
          e.message += `\n--- worker log (${rt.name}) ---\n${tail(worker?.log() ?? "(no worker)")}\n--- nginx log ---\n${tail(nginx?.log() ?? "(no nginx)")}`;
          throw e;
        }
      });
    }

    before(async () => {
      dir = tmpDir("fetchcgi-nginx-");
      const socket = path.join(dir, "app.sock");
      worker = await startWorker(rt, [APP, "--listen", `unix:${socket}`]);
      assert.equal(worker.address, `unix:${socket}`);
      nginx = await startNginx({
        template: CONF,
        prefix: path.join(dir, "nginx"),
        vars: { __USER__: nginxUser(), __SOCKET__: socket },
        portVars: ["__PORT__", "__STREAM_PORT__"],
      });
      port = nginx.ports.__PORT__;
      base = `http://127.0.0.1:${port}`;
      live = `http://127.0.0.1:${nginx.ports.__STREAM_PORT__}`;
    });

    after(async () => {
      // nginx first, so that it does not log the worker going away.
      await nginx?.stop().catch(() => {});
      await worker?.stop().catch(() => {});
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("uses examples/nginx.conf verbatim apart from the placeholders", async () => {
      const template = fs.readFileSync(CONF, "utf8");
      const pattern = template.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/__[A-Z_]+__/g, ".+?");
      assert.match(nginx!.conf, new RegExp(`^${pattern}$`));
    });

    it("GET /hello", async () => {
      const res = await fetch(`${base}/hello`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "hello");
    });

    it("POST /echo: method, body, headers, Authorization", async () => {
      const res = await fetch(`${base}/echo`, {
        method: "POST",
        body: "ping ✓",
        headers: { "content-type": "text/plain;charset=utf-8", "x-custom": "yes", authorization: "Bearer t0k3n" },
      });
      assert.equal(res.status, 200);
      const echo = await res.json();
      assert.equal(echo.method, "POST");
      assert.equal(echo.body, "ping ✓");
      assert.equal(echo.headers["content-type"], "text/plain;charset=utf-8");
      assert.equal(echo.headers["content-length"], String(new TextEncoder().encode("ping ✓").length));
      assert.equal(echo.headers["x-custom"], "yes");
      assert.equal(echo.headers.authorization, "Bearer t0k3n");
      // Debian's fastcgi_params sends HTTP_HOST $host (no port); other builds pass the Host header.
      assert.ok(["127.0.0.1", `127.0.0.1:${port}`].includes(echo.headers.host), echo.headers.host);
      assert.equal(echo.url, `http://${echo.headers.host}/echo`);
    });

    it("raw query reaches request.url byte for byte", async () => {
      const query = "?a=1&b=%20x&c=caf%C3%A9&d=%e2%9c%93&e=a+b&f&g=%2F%3F%26";
      const res = await fetch(`${base}/echo${query}`);
      assert.equal(res.status, 200);
      const echo = await res.json();
      assert.equal(new URL(echo.url).pathname, "/echo");
      assert.ok(echo.url.endsWith(`/echo${query}`), echo.url);
      assert.equal(echo.url.slice(echo.url.indexOf("?")), query);
    });

    it("percent-encoded and unicode path reaches request.url byte for byte", async () => {
      // /echo answers only its exact path; the 404 route prints url.pathname as the handler saw it.
      const raw = "/nope/%E2%9C%93/caf%C3%A9/a%2Fb/%e2%9c%93";
      let res = await fetch(`${base}${raw}?x=%20y`);
      assert.equal(res.status, 404);
      assert.equal(await res.text(), `no route ${raw}`);
      // A literal unicode path is percent-encoded (UTF-8) by the client and arrives as such.
      res = await fetch(`${base}/nope/✓/café`);
      assert.equal(res.status, 404);
      assert.equal(await res.text(), "no route /nope/%E2%9C%93/caf%C3%A9");
    });

    it("/cookies: two separate Set-Cookie headers", async () => {
      const res = await fetch(`${base}/cookies`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; HttpOnly"]);
      assert.equal(await res.text(), "cookies");
    });

    it("/redirect: 301 with Location /hello", async () => {
      const res = await fetch(`${base}/redirect`, { redirect: "manual" });
      assert.equal(res.status, 301);
      assert.equal(res.headers.get("location"), "/hello");
      await res.arrayBuffer();
    });

    it("HEAD /hello: headers, no body", async () => {
      const res = await fetch(`${base}/hello`, { method: "HEAD" });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "");
      // The connection stays usable (no stray body bytes on it).
      const after = await fetch(`${base}/hello`);
      assert.equal(await after.text(), "hello");
    });

    it("/throw and /throw-async: 500, and the worker lives on", async () => {
      for (const route of ["/throw", "/throw-async"]) {
        const res = await fetch(`${base}${route}`);
        assert.equal(res.status, 500, route);
        await res.arrayBuffer();
        const ok = await fetch(`${base}/hello`);
        assert.equal(ok.status, 200);
        assert.equal(await ok.text(), "hello");
      }
      assert.equal(worker!.proc.exitCode, null);
    });

    it("/empty: 204", async () => {
      const res = await fetch(`${base}/empty`);
      assert.equal(res.status, 204);
      assert.equal(await res.text(), "");
    });

    it("/big?n=1048576: exact length and content", async () => {
      const n = 1048576;
      const res = await fetch(`${base}/big?n=${n}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      const body = new Uint8Array(await res.arrayBuffer());
      assert.equal(body.length, n);
      assert.ok(Buffer.from(body).equals(Buffer.from(bigBody(n))), "body differs from the expected a-z pattern");
    });

    it("buffered upload (Content-Length) of 3 MB to /count", async () => {
      const n = 3 * 1024 * 1024 + 7;
      const res = await fetch(`${base}/count`, { method: "POST", body: bigBody(n) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), String(n));
    });

    it("streamed upload (chunked, no Content-Length) of 6 MB to /count, request buffering off", async () => {
      const n = 6 * 1024 * 1024 + 123;
      const res = await fetch(`${live}/count`, {
        method: "POST",
        body: uploadStream(n, 64 * 1024),
        duplex: "half",
      } as RequestInit);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), String(n));
    });

    it("chunked upload: no Content-Length when request buffering is off, the real one when it is on", async () => {
      // The pause makes nginx start the FastCGI request before the body is complete: when a
      // chunked body has fully arrived by then, nginx knows and sends its length anyway.
      const body = () => {
        const parts = ["chunk one, ", "chunk two"];
        return new ReadableStream<Uint8Array>({
          async pull(c) {
            if (parts.length === 1) await sleep(200);
            const part = parts.shift();
            if (part === undefined) return c.close();
            c.enqueue(new TextEncoder().encode(part));
          },
        });
      };
      const streamed = await (await fetch(`${live}/echo`, { method: "PUT", body: body(), duplex: "half" } as RequestInit)).json();
      assert.equal(streamed.method, "PUT");
      assert.equal(streamed.body, "chunk one, chunk two");
      assert.equal(streamed.headers["content-length"], undefined);
      // The buffered server reads the whole body first and sends its length.
      const spooled = await (await fetch(`${base}/echo`, { method: "PUT", body: body(), duplex: "half" } as RequestInit)).json();
      assert.equal(spooled.body, "chunk one, chunk two");
      assert.equal(spooled.headers["content-length"], "20");
    });

    // nginx passes small pieces on promptly even when it buffers, so this checks the worker
    // flushes each chunk as the handler writes it, through the server meant for it.
    it("SSE /stream through the unbuffered server: events arrive as they are written", async () => {
      const start = Date.now();
      const res = await fetch(`${live}/stream?n=3&gap=300`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let text = "";
      let first = -1;
      let firstText = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first < 0) {
          first = Date.now() - start;
          firstText = dec.decode(value, { stream: true });
          text += firstText;
        } else {
          text += dec.decode(value, { stream: true });
        }
      }
      const end = Date.now() - start;
      assert.equal(text, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
      assert.ok(first >= 0, "no chunk at all");
      assert.ok(!firstText.includes("data: 3"), `first chunk already holds the last event: ${JSON.stringify(firstText)}`);
      assert.ok(end - first >= 300, `first chunk at ${first} ms, end at ${end} ms: not streamed`);
    });

    it("/env: the CGI params nginx sends, frozen", async () => {
      const res = await fetch(`${base}/env?q=1`);
      assert.equal(res.status, 200);
      const { env, frozen, role } = await res.json();
      assert.equal(frozen, true);
      assert.equal(role, "responder");
      assert.equal(env.REQUEST_METHOD, "GET");
      assert.equal(env.SCRIPT_NAME, "/env");
      assert.equal(env.REQUEST_URI, "/env?q=1");
      assert.equal(env.QUERY_STRING, "q=1");
      assert.equal(env.GATEWAY_INTERFACE, "CGI/1.1");
      assert.equal(env.SERVER_PROTOCOL, "HTTP/1.1");
      assert.equal(env.SERVER_PORT, String(port));
      assert.equal(env.REMOTE_ADDR, "127.0.0.1");
      assert.match(env.SERVER_SOFTWARE, /^nginx\//);
    });

    it("keep-conn: sequential and parallel requests all succeed", async () => {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${base}/echo?i=${i}`);
        assert.equal(res.status, 200);
        assert.ok((await res.json()).url.endsWith(`/echo?i=${i}`));
      }
      const all = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
        const res = await fetch(`${base}/echo?p=${i}`, { method: "POST", body: `body ${i}` });
        return [res.status, (await res.json()).body];
      }));
      assert.deepEqual(all, Array.from({ length: 12 }, (_, i) => [200, `body ${i}`]));
    });

    it("ctx.log reaches nginx's error log", async () => {
      const res = await fetch(`${base}/log`);
      assert.equal(await res.text(), "logged");
      const deadline = Date.now() + 3000;
      while (!/FastCGI sent in stderr: "a line for the error log/.test(nginx!.log())) {
        assert.ok(Date.now() < deadline, "no 'FastCGI sent in stderr' line in error.log");
        await sleep(50);
      }
    });

    it("client disconnect mid-request aborts request.signal", async () => {
      const before = (await (await fetch(`${base}/aborts`)).json()).length;
      const ac = new AbortController();
      const pending = fetch(`${base}/slow?ms=10000`, { signal: ac.signal }).then((r) => r.text());
      await sleep(300);
      ac.abort();
      await assert.rejects(pending);
      const deadline = Date.now() + 5000;
      let aborts: string[] = [];
      for (;;) {
        aborts = await (await fetch(`${base}/aborts`)).json();
        if (aborts.length > before) break;
        assert.ok(Date.now() < deadline, `request.signal did not fire within 5 s of the client leaving (aborts: ${JSON.stringify(aborts)})`);
        await sleep(100);
      }
      assert.equal(aborts.length, before + 1);
      // The worker still serves.
      assert.equal(await (await fetch(`${base}/hello`)).text(), "hello");
    });
  });
}
