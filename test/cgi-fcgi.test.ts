// fetchcgi behind libfcgi's cgi-fcgi, the CGI-to-FastCGI bridge, on every runtime. The test plays
// the web server: it runs the example bridge scripts (examples/cgi-fcgi-*.cgi, only their
// __PLACEHOLDERS__ replaced) as CGI programs, with a CGI environment and the body on stdin, and
// checks the CGI response they print. cgi-fcgi-bridge.cgi talks to a worker on TCP;
// cgi-fcgi-spawn.cgi starts two workers itself on a Unix socket (fd 0) through the wrapper.
// Needs cgi-fcgi (`apt-get install -y libfcgi-bin`): without it every test here fails, on purpose.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pattern, sleep } from "./lib/frontChecks.ts";
import { parseCgi, type Parsed } from "./lib/fcgi.ts";
import { annotate } from "./lib/failure.ts";
import { servingOnFd0, socketPathOf } from "./lib/sockets.ts";
import { fillTemplate, findBinary, freePort, templatePattern } from "./lib/server.ts";
import { WRAPPER, writeWrapper } from "./lib/wrapper.ts";
import { APP, ROOT, runtimes, startWorker, tmpDir, type WorkerProc } from "./lib/workers.ts";

const BRIDGE = path.join(ROOT, "examples/cgi-fcgi-bridge.cgi");
const SPAWN = path.join(ROOT, "examples/cgi-fcgi-spawn.cgi");
const read = (f: string) => fs.readFileSync(f, "utf8");
const findCgiFcgi = () =>
  findBinary(
    ["/usr/bin/cgi-fcgi"],
    "cgi-fcgi is not installed (the example scripts run /usr/bin/cgi-fcgi): install it, e.g. `apt-get install -y libfcgi-bin`",
  );

test("cgi-fcgi is installed", () => {
  findCgiFcgi();
});

test("docs/cgi-fcgi.md shows the example scripts as they are", () => {
  const doc = read(path.join(ROOT, "docs/cgi-fcgi.md"));
  for (const f of [BRIDGE, SPAWN]) {
    assert.ok(
      doc.includes("```sh\n" + read(f) + "```\n"),
      `docs/cgi-fcgi.md: the block differs from ${path.relative(ROOT, f)}`,
    );
  }
  assert.ok(doc.includes("examples/fetchcgi-wrapper.sh"), "docs/cgi-fcgi.md does not point to the wrapper");
});

/** An example script with its placeholders filled, written executable into `dir`. */
function writeScript(template: string, dir: string, vars: Record<string, string>): { file: string; text: string } {
  const text = fillTemplate(read(template), vars, template);
  const file = path.join(dir, path.basename(template));
  fs.writeFileSync(file, text, { mode: 0o755 });
  return { file, text };
}

/** The CGI environment a web server would give the bridge for `method uri`, `headers` as HTTP_*. */
function cgiEnv(
  method: string,
  uri: string,
  headers: Record<string, string> = {},
  extra: Record<string, string> = {},
): Record<string, string> {
  const [rawPath, query = ""] = uri.split(/\?(.*)/s);
  const env: Record<string, string> = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_SOFTWARE: "test-cgi/1.0",
    SERVER_NAME: "example.test",
    SERVER_PORT: "8080",
    SERVER_ADDR: "127.0.0.1",
    SERVER_PROTOCOL: "HTTP/1.1",
    REQUEST_METHOD: method,
    REQUEST_URI: uri,
    QUERY_STRING: query,
    SCRIPT_NAME: "",
    PATH_INFO: decodeURIComponent(rawPath),
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_PORT: "50000",
    HTTP_HOST: "example.test:8080",
  };
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toUpperCase().replaceAll("-", "_");
    env[name === "CONTENT_TYPE" || name === "CONTENT_LENGTH" ? name : `HTTP_${name}`] = v;
  }
  return { ...env, ...extra };
}

interface CgiRun extends Parsed {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `script` as a CGI program: `env` only, `body` on stdin; resolves when it exits. With
 * `readAfter`, its stdout is not read for that many ms: the pipe fills and cgi-fcgi, blocked
 * writing it, stops reading the worker (a web server relaying to a slow client).
 */
function runCgi(
  script: string,
  env: Record<string, string>,
  body?: Uint8Array | string | AsyncIterable<Uint8Array>,
  opts: { kill?: Promise<void>; readAfter?: number } = {},
): Promise<CgiRun> {
  // Its own process group: workers that cgi-fcgi -connect starts stay in it (for the cleanup).
  const proc = spawn(script, [], { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const out: Buffer[] = [];
  let stderr = "";
  proc.stdout!.on("data", (d: Buffer) => out.push(d));
  if (opts.readAfter) {
    proc.stdout!.pause();
    setTimeout(() => proc.stdout!.resume(), opts.readAfter);
  }
  proc.stderr!.on("data", (d) => (stderr += d));
  proc.stdin!.on("error", () => {}); // cgi-fcgi may exit before reading all of it
  (async () => {
    if (body === undefined || typeof body === "string" || body instanceof Uint8Array) return proc.stdin!.end(body);
    for await (const chunk of body) {
      if (!proc.stdin!.write(chunk)) await new Promise((r) => proc.stdin!.once("drain", r));
    }
    proc.stdin!.end();
  })().catch(() => {});
  opts.kill?.then(() => proc.kill("SIGTERM"));
  spawned.add(proc.pid!);
  return new Promise((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (code) => {
      const stdout = Buffer.concat(out);
      let parsed: Parsed = { status: 0, headers: [], head: "", body: new Uint8Array(), text: "" };
      if (stdout.length) parsed = parseCgi(stdout);
      resolve({ ...parsed, code, stdout, stderr });
    });
  });
}

/** Process groups of the cgi-fcgi runs: the workers that -connect/-start started live on in them. */
const spawned = new Set<number>();
function killSpawned(): void {
  for (const pid of spawned) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  spawned.clear();
}
after(killSpawned);

const header = (r: CgiRun, name: string) => r.headers.filter(([n]) => n === name).map(([, v]) => v);

for (const rt of runtimes()) {
  describe(`cgi-fcgi -bind (examples/cgi-fcgi-bridge.cgi) → ${rt.name}`, () => {
    let dir = "";
    let worker: WorkerProc;
    let bridge: { file: string; text: string };
    const cgi = (
      method: string,
      uri: string,
      headers: Record<string, string> = {},
      body?: Parameters<typeof runCgi>[2],
      extra?: Record<string, string>,
    ) => runCgi(bridge.file, cgiEnv(method, uri, headers, extra), body);

    before(async () => {
      findCgiFcgi();
      dir = tmpDir("fetchcgi-cgifcgi-");
      worker = await startWorker(rt, [APP, "--listen", "127.0.0.1:0"]);
      bridge = writeScript(BRIDGE, dir, { __CONNECT__: worker.address.replace(/^tcp:/, "") });
    });
    after(async () => {
      await worker?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const it = (name: string, fn: () => Promise<void>, todo?: string) =>
      test(name, { timeout: 30000, todo }, async () => {
        try {
          await fn();
        } catch (err) {
          throw annotate(
            err,
            `cgi-fcgi → ${rt.name}`,
            `--- worker log (${rt.name}) ---\n${worker?.log().split("\n").slice(-30).join("\n")}`,
          );
        }
      });

    it("runs examples/cgi-fcgi-bridge.cgi verbatim apart from the placeholder", async () => {
      assert.match(bridge.text, templatePattern(read(BRIDGE)));
    });

    it("GET: header lines, a Status line, a blank line, the body; exit code 0", async () => {
      const r = await cgi("GET", "/hello");
      assert.equal(r.code, 0, r.stderr);
      // new Response("hello") has Content-Type text/plain;charset=UTF-8 (Fetch spec; Bun.serve sends it too,
      // and the CLI's default lazy Response gives it on Bun, whose own Response leaves it out).
      assert.equal(r.stdout.toString(), "content-type: text/plain;charset=UTF-8\r\nStatus: 200 OK\r\n\r\nhello");
      assert.equal(r.status, 200);
      assert.equal(r.text, "hello");
    });

    it("POST: method, body, CONTENT_TYPE/LENGTH, HTTP_* headers, Authorization, URL from REQUEST_URI + HTTP_HOST", async () => {
      const body = "ping ✓";
      const r = await cgi("POST", "/echo?a=1", {
        "content-type": "text/plain;charset=utf-8",
        "content-length": String(Buffer.byteLength(body)),
        "x-custom": "yes",
        authorization: "Bearer t0k3n",
      }, body);
      assert.equal(r.status, 200);
      const echo = JSON.parse(r.text);
      assert.equal(echo.method, "POST");
      assert.equal(echo.body, body);
      assert.equal(echo.url, "http://example.test:8080/echo?a=1");
      assert.equal(echo.headers["content-type"], "text/plain;charset=utf-8");
      assert.equal(echo.headers["content-length"], String(Buffer.byteLength(body)));
      assert.equal(echo.headers["x-custom"], "yes");
      assert.equal(echo.headers.authorization, "Bearer t0k3n");
    });

    it("empty POST: CONTENT_LENGTH=0 gives an empty body", async () => {
      const echo = JSON.parse((await cgi("POST", "/echo", { "content-length": "0" }, "")).text);
      assert.equal(echo.method, "POST");
      assert.ok(echo.body === "" || echo.body === null, JSON.stringify(echo.body));
    });

    it("no CONTENT_LENGTH: cgi-fcgi forwards no body at all (stdin is not read)", async () => {
      const r = await cgi("POST", "/count", {}, "abc");
      assert.equal(r.status, 200);
      assert.equal(r.text, "0");
    });

    it("stdin ends before CONTENT_LENGTH (a client that went away): the worker refuses the cut body with 500", async () => {
      const r = await cgi("POST", "/count", { "content-length": "1000" }, "0123456789");
      assert.equal(r.status, 500);
      assert.match(r.stderr, /truncated: 10 of 1000 bytes/);
      assert.equal((await cgi("GET", "/hello")).text, "hello");
    });

    it("large upload streamed through stdin: exact byte count", async () => {
      const n = 16 * 1024 * 1024 + 7;
      async function* chunks() {
        for (let sent = 0; sent < n; sent += 65536) yield new Uint8Array(Math.min(65536, n - sent)).fill(120);
      }
      const r = await cgi("POST", "/count", { "content-length": String(n) }, chunks());
      assert.equal(r.status, 200, r.stderr);
      assert.equal(r.text, String(n));
    });

    it("large response: 4 MiB byte-exact with its Content-Type", async () => {
      const n = 4 * 1024 * 1024 + 3;
      const r = await cgi("GET", `/big?n=${n}`);
      assert.equal(r.status, 200);
      assert.deepEqual(header(r, "content-type"), ["application/octet-stream"]);
      assert.equal(r.body.length, n);
      assert.ok(Buffer.from(r.body).equals(pattern(n)), "body differs from the expected a-z pattern");
    });

    it("large response read slowly: 8 MiB whose reading starts after 3 s (past the worker's 2 s linger) arrives whole", async () => {
      // cgi-fcgi sends no FCGI_KEEP_CONN: the worker closes after END_REQUEST, and used to cut the tail
      // of what cgi-fcgi had not read yet once the connection had been silent for 2 s.
      const n = 8 * 1024 * 1024 + 3;
      const r = await runCgi(bridge.file, cgiEnv("GET", `/big?n=${n}`), undefined, { readAfter: 3000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.body.length, n);
      assert.ok(Buffer.from(r.body).equals(pattern(n)), "body differs from the expected a-z pattern");
    });

    it("zero-length responses: 204, and 200 with an empty body", async () => {
      const none = await cgi("GET", "/empty");
      assert.equal(none.stdout.toString(), "Status: 204 No Content\r\n\r\n");
      const empty = await cgi("GET", "/big?n=0");
      assert.equal(empty.status, 200);
      assert.equal(empty.body.length, 0);
    });

    it("status codes; a redirect has Status 301 and its Location", async () => {
      for (const code of [201, 400, 404, 418, 503]) {
        const r = await cgi("GET", `/status?code=${code}`);
        assert.equal(r.status, code);
        assert.equal(r.text, `status ${code}`);
      }
      const r = await cgi("GET", "/redirect");
      assert.equal(r.status, 301);
      assert.deepEqual(header(r, "location"), ["/hello"]);
      // Status after the other headers (HAProxy needs it so; any CGI parser takes it).
      assert.match(r.head, /^location: \/hello\r\nStatus: 301 Moved Permanently$/);
    });

    it("two Set-Cookie headers stay two lines", async () => {
      const r = await cgi("GET", "/cookies");
      assert.deepEqual(header(r, "set-cookie"), ["a=1; Path=/", "b=2; HttpOnly"]);
      assert.equal(r.text, "cookies");
    });

    it("HEAD: headers, no body", async () => {
      const r = await cgi("HEAD", "/hello");
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 0);
    });

    it("percent-encoded and unicode paths and raw query strings arrive byte for byte", async () => {
      const query = "?a=1&b=%20x&c=caf%C3%A9&d=%e2%9c%93&e=a+b&f&g=%2F%3F%26";
      const echo = JSON.parse((await cgi("GET", `/echo${query}`)).text);
      assert.equal(echo.url.slice(echo.url.indexOf("?")), query);
      const raw = "/nope/%E2%9C%93/caf%C3%A9/%e2%9c%93/a%20b";
      const r = await cgi("GET", `${raw}?x=%20y`);
      assert.equal(r.status, 404);
      assert.equal(r.text, `no route ${raw}`);
    });

    it("long and joined headers; libfcgi cuts PARAMS records inside a pair", async () => {
      // cgi-fcgi writes params in 8184-byte records: a 7000-byte value is cut across two.
      const long = "v".repeat(7000);
      const echo = JSON.parse(
        (await cgi("GET", "/echo", { "x-long": long, "x-multi": "one, two", "x-after": "end" })).text,
      );
      assert.equal(echo.headers["x-long"], long);
      assert.equal(echo.headers["x-multi"], "one, two");
      assert.equal(echo.headers["x-after"], "end");
    });

    it("a handler that throws: Status 500, the error on cgi-fcgi's stderr, the worker lives on", async () => {
      for (const route of ["/throw", "/throw-async"]) {
        const r = await cgi("GET", route);
        assert.equal(r.code, 0);
        assert.equal(r.status, 500, route);
        assert.match(r.stderr, /handler (threw|rejected) on purpose/);
      }
      assert.equal((await cgi("GET", "/hello")).text, "hello");
      assert.equal(worker.proc.exitCode, null);
    });

    for (const after of [0, 300]) {
      it(`a stream failing ${after === 0 ? "at once" : `${after} ms`} after its first chunk: the part sent, the error on stderr, exit 253; the worker lives on`, async () => {
        const r = await cgi("GET", `/stream-fail?after=${after}`);
        // The worker closes without END_REQUEST: cgi-fcgi has no appStatus to exit with.
        assert.equal(r.code, 253);
        assert.equal(r.status, 200);
        assert.equal(r.text, "partial\n");
        assert.match(r.stderr, new RegExp(`response body failed mid-way: Error: stream failed on purpose ${after} ms`));
        assert.equal((await cgi("GET", "/hello")).text, "hello");
        assert.equal(worker.proc.exitCode, null);
      });
    }

    it("ctx.log goes to cgi-fcgi's stderr (the web server's error log)", async () => {
      const r = await cgi("GET", "/log");
      assert.equal(r.text, "logged");
      assert.match(r.stderr, /a line for the error log/);
    });

    it("env: the whole CGI environment arrives as params, never in process.env", async () => {
      const r = await cgi("GET", "/env?q=1", { proxy: "http://evil.test:3128" });
      const { env, frozen, role, processEnvProxy } = JSON.parse(r.text);
      assert.equal(frozen, true);
      assert.equal(role, "responder");
      assert.equal(env.QUERY_STRING, "q=1");
      assert.equal(env.SERVER_SOFTWARE, "test-cgi/1.0");
      assert.equal(env.GATEWAY_INTERFACE, "CGI/1.1");
      assert.equal(env.PATH, "/usr/local/bin:/usr/bin:/bin");
      assert.equal(env.HTTP_PROXY, "http://evil.test:3128");
      assert.equal(processEnvProxy, null);
    });

    it("streaming: cgi-fcgi prints each chunk as the handler writes it", async () => {
      const start = performance.now();
      const proc = spawn(bridge.file, [], {
        env: cgiEnv("GET", "/stream?n=3&gap=400"),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      let first = -1;
      proc.stdout.on("data", (d) => {
        text += d;
        if (first < 0 && text.includes("data: 1")) first = performance.now() - start;
      });
      await new Promise((r) => proc.once("close", r));
      assert.ok(text.endsWith("\r\n\r\ndata: 1\n\ndata: 2\n\ndata: 3\n\n"), JSON.stringify(text));
      assert.ok(
        performance.now() - start - first >= 600,
        `first event at ${first} ms, end at ${performance.now() - start} ms: not streamed`,
      );
    });

    it("cgi-fcgi killed mid-request (the web server gave up): request.signal aborts", async () => {
      const aborts = async () => JSON.parse((await cgi("GET", "/aborts")).text).length;
      const before = await aborts();
      const r = await runCgi(bridge.file, cgiEnv("GET", "/slow?ms=4000"), undefined, { kill: sleep(400) });
      // libfcgi catches SIGTERM: its select() fails with EINTR and cgi-fcgi exits with that errno (4).
      assert.equal(r.code, 4);
      assert.equal(r.stdout.length, 0);
      const deadline = performance.now() + 3000;
      while ((await aborts()) === before) {
        assert.ok(performance.now() < deadline, "request.signal did not fire within 3 s of cgi-fcgi's end");
        await sleep(100);
      }
    });

    it("no worker listening: exit code 111 (ECONNREFUSED), a message on stderr, no output", async () => {
      const port = await freePort();
      const down = writeScript(BRIDGE, fs.mkdtempSync(path.join(dir, "down-")), { __CONNECT__: `127.0.0.1:${port}` });
      const r = await runCgi(down.file, cgiEnv("GET", "/hello"));
      assert.equal(r.code, 111);
      assert.equal(r.stdout.length, 0);
      assert.equal(r.stderr.trim(), `Could not connect to 127.0.0.1:${port}`);
    });
  });

  describe(`cgi-fcgi starting the workers (-connect, -start) → ${rt.name}`, () => {
    let dir = "";
    before(() => {
      findCgiFcgi();
      dir = tmpDir("fetchcgi-cgifcgi-spawn-");
    });
    after(() => {
      killSpawned();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The pids that answer `n` concurrent /rss requests through `script`. */
    async function answering(script: string, n: number): Promise<Set<number>> {
      return new Set(
        await Promise.all(Array.from({ length: n }, async () => {
          const r = await runCgi(script, cgiEnv("GET", "/rss"));
          assert.equal(r.status, 200, r.stderr);
          return JSON.parse(r.text).pid as number;
        })),
      );
    }

    test(
      "examples/cgi-fcgi-spawn.cgi: the first request starts 2 workers on the socket (fd 0) with a clean environment; later requests reuse them",
      { timeout: 30000 },
      async () => {
        const socket = path.join(dir, "app.sock");
        const spawnCgi = writeScript(SPAWN, dir, { __SOCKET__: socket, __WRAPPER__: writeWrapper(rt, dir) });
        assert.match(spawnCgi.text, templatePattern(read(SPAWN)));
        assert.deepEqual(servingOnFd0(socket), []);
        // The first request carries a client's `Proxy:` header: the wrapper keeps it out of the workers' process.env.
        const first = await runCgi(spawnCgi.file, cgiEnv("GET", "/env", { proxy: "http://evil.test:3128" }));
        assert.equal(first.status, 200, first.stderr);
        assert.equal(JSON.parse(first.text).processEnvProxy, null);
        const workers = servingOnFd0(socket);
        assert.equal(workers.length, 2, `workers on ${socket}: ${workers}`);
        for (const pid of await answering(spawnCgi.file, 6)) {
          assert.ok(workers.includes(pid), `answered by ${pid}, not one of ${workers}`);
        }
        assert.deepEqual(servingOnFd0(socket).sort(), workers.sort(), "later requests started other workers");
        assert.equal(socketPathOf(workers[0]), socket);
      },
    );

    test("cgi-fcgi -start -connect SOCKET WRAPPER 2 starts 2 workers and exits; the bridge reaches them", {
      timeout: 30000,
    }, async () => {
      const socket = path.join(dir, "start.sock");
      const proc = spawn(findCgiFcgi(), ["-start", "-connect", socket, writeWrapper(rt, dir), "2"], {
        stdio: ["ignore", "ignore", "pipe"],
        detached: true,
      });
      spawned.add(proc.pid!);
      let err = "";
      proc.stderr!.on("data", (d) => (err += d));
      assert.equal(
        await new Promise((r) => proc.once("close", r)),
        0,
        err,
      );
      const workers = servingOnFd0(socket);
      assert.equal(workers.length, 2, `workers on ${socket}: ${workers}`);
      const bridge = writeScript(BRIDGE, dir, { __CONNECT__: socket });
      for (const pid of await answering(bridge.file, 6)) {
        assert.ok(workers.includes(pid), `answered by ${pid}, not one of ${workers}`);
      }
    });
  });
}
