// Security properties on every runtime (docs/security.md): no response splitting, no secrets in the
// worker's log, params kept out of process.env (httpoxy), Unix socket permissions in place before
// the first connection. Allowed clients are in timeouts.test.ts.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { baseParams, begin, cat, fetchRaw, pairs, RawConn, record, T } from "./lib/fcgi.ts";
import { APP, runtimes, startWorker, tmpDir, type WorkerProc } from "./lib/workers.ts";

const SECRETS = {
  HTTP_AUTHORIZATION: "Bearer s3cr3t-token",
  HTTP_COOKIE: "session=s3cr3t-cookie",
  HTTP_PROXY: "http://evil.example:1",
};

for (const rt of runtimes()) {
  describe(`security on ${rt.name}`, () => {
    let w: WorkerProc;
    before(async () => {
      w = await startWorker(rt, [APP, "--listen", ":0", "--max-params", "40"]);
    });
    after(async () => {
      await w.stop();
    });

    test("CR/LF in a response header name, value or status text never reaches the wire", async () => {
      for (const kind of ["value", "name", "status", "set"]) {
        const r = await fetchRaw(w.address, "GET", `/inject?kind=${kind}`);
        const wire = Buffer.from(r.end.stdout).toString("latin1");
        assert.ok(
          !/Injected/i.test(wire.split("\r\n\r\n")[0]),
          `${kind}: injected header on the wire: ${JSON.stringify(wire)}`,
        );
        // The Fetch API refuses them outright: the handler throws, the client gets a 500 (or,
        // when the handler caught the refusal, its response without the header). Bun accepts a
        // CR/LF statusText; the worker then uses the standard reason phrase.
        assert.equal(r.status, kind === "set" || (kind === "status" && rt.name === "bun") ? 200 : 500, kind);
      }
    });

    test("Authorization and Cookie values never appear in the worker's log, whatever it logs", async () => {
      // A skipped header, a handler that throws, a params limit: each writes a log line.
      await fetchRaw(w.address, "GET", "/throw", {
        params: { ...baseParams("GET", "/throw"), ...SECRETS, "HTTP_BAD\x01NAME": "v" },
      });
      const many: Record<string, string> = { ...baseParams("GET", "/hello"), ...SECRETS };
      for (let i = 0; i < 50; i++) many[`HTTP_X_${i}`] = "v";
      const refused = await fetchRaw(w.address, "GET", "/hello", { params: many });
      assert.equal(refused.status, 431);
      const c = await RawConn.connect(w.address);
      c.send(
        cat(begin(1), record(T.PARAMS, 1, pairs({ ...baseParams("GET", "/slow"), ...SECRETS })), record(T.PARAMS, 1)),
      );
      await new Promise((r) => setTimeout(r, 100));
      c.close(); // an abort: logged too
      await new Promise((r) => setTimeout(r, 300));
      const log = w.log();
      assert.match(log, /handler threw on purpose/);
      assert.match(log, /more than 40 params/);
      assert.ok(!log.includes("s3cr3t"), `a secret reached the log:\n${log}`);
    });

    test("params never reach process.env (httpoxy): a Proxy header stays a request header", async () => {
      const r = await fetchRaw(w.address, "GET", "/env", { params: { ...baseParams("GET", "/env"), ...SECRETS } });
      const { env, processEnvProxy } = JSON.parse(r.text);
      assert.equal(env.HTTP_PROXY, SECRETS.HTTP_PROXY);
      assert.equal(processEnvProxy, null);
    });
  });

  test(`${rt.name}: --socket-mode is in place before the first connection is accepted`, async () => {
    const dir = tmpDir("fetchcgi-sec-");
    const socket = path.join(dir, "app.sock");
    try {
      const w = await startWorker(rt, [APP, "--listen", `unix:${socket}`, "--socket-mode", "600"]);
      try {
        // The worker prints its "serving" line only after binding: by then the mode must be final.
        assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
        assert.equal((await fetchRaw(`unix:${socket}`, "GET", "/hello")).text, "hello");
      } finally {
        await w.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
