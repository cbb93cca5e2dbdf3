// lighttpd's FastCGI Authorizer mode in front of fetchcgi, on every runtime: lighttpd started with
// examples/lighttpd-authorizer.conf exactly as shipped, one worker per socket, both running
// test/fixtures/authorizer.js (an app that is its own authorizer). Focused checks of the role
// rather than the standard list: who is let through, what the responder gets, what the client sees.
// Needs lighttpd installed (`apt-get install -y lighttpd`): without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { annotate } from "./lib/failure.ts";
import { findLighttpd, startLighttpd } from "./lib/lighttpd.ts";
import { type Front, templatePattern } from "./lib/server.ts";
import { ROOT, runtimes, startWorker, tmpDir, type WorkerProc } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/lighttpd-authorizer.conf");
const AUTHORIZER = path.join(ROOT, "test/fixtures/authorizer.js");
const GOOD = { authorization: "Bearer good" };

test("lighttpd is installed", () => {
  findLighttpd();
});

test("docs/lighttpd.md shows examples/lighttpd-authorizer.conf as it is", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/lighttpd.md"), "utf8");
  assert.ok(
    doc.includes("```lighttpd\n" + fs.readFileSync(CONF, "utf8") + "```\n"),
    "docs/lighttpd.md: the config block differs from examples/lighttpd-authorizer.conf",
  );
});

for (const rt of runtimes()) {
  describe(`lighttpd authorizer → ${rt.name}`, () => {
    let dir = "";
    let workers: WorkerProc[] = [];
    let lighttpd: Front | undefined;
    let base = "";
    const get = (p: string, init?: RequestInit) => fetch(`${base}${p}`, init);
    const it = (name: string, fn: () => Promise<void>, opts: { todo?: string } = {}) =>
      test(name, { timeout: 15000, ...opts }, async () => {
        try {
          await fn();
        } catch (err) {
          throw annotate(
            err,
            `lighttpd authorizer → ${rt.name}`,
            `--- lighttpd log ---\n${lighttpd?.log()}\n--- workers ---\n${workers.map((w) => w.log()).join("\n")}`,
          );
        }
      });

    before(async () => {
      dir = tmpDir("fetchcgi-front-");
      const [auth, app] = [path.join(dir, "auth.sock"), path.join(dir, "app.sock")];
      // 666: lighttpd runs as another user (www-data) when the tests run as root.
      workers = await Promise.all(
        [auth, app].map((s) => startWorker(rt, [AUTHORIZER, "--listen", `unix:${s}`, "--socket-mode", "666"])),
      );
      lighttpd = await startLighttpd({
        template: CONF,
        dir,
        prefix: path.join(dir, "lighttpd"),
        vars: { __AUTH_SOCKET__: auth, __SOCKET__: app },
        portVars: ["__PORT__"],
      });
      base = `http://127.0.0.1:${lighttpd.ports.__PORT__}`;
    });

    after(async () => {
      await lighttpd?.stop();
      await Promise.all(workers.map((w) => w.stop(500)));
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs examples/lighttpd-authorizer.conf verbatim apart from the placeholders", async () => {
      assert.match(lighttpd!.conf, templatePattern(fs.readFileSync(CONF, "utf8")));
    });

    it("a good token passes: the responder gets the request, Variable-USER as env.USER", async () => {
      const path = "/private/env/%E2%9C%93?x=%20y";
      const res = await get(path, { headers: GOOD });
      assert.equal(res.status, 200);
      const seen = await res.json();
      assert.equal(seen.role, "responder");
      assert.equal(seen.url, `${base}${path}`);
      assert.equal(seen.env.USER, "alice");
      // lighttpd maps Variable-NAME to NAME and nothing else: REMOTE_USER only from Variable-REMOTE_USER.
      assert.equal(seen.env.REMOTE_USER, undefined);
      assert.equal(seen.env.HTTP_AUTHORIZATION, "Bearer good");
      // The authorizer was asked about the same URL, raw query included, without a body.
      assert.equal(seen.env.AUTHORIZER_URL, `${base}${path}`);
      assert.equal(seen.env.AUTHORIZER_BODY, "none");
    });

    it("Variable-REMOTE_USER sets REMOTE_USER", async () => {
      const seen = await (await get("/private/who?remote-user", { headers: GOOD })).json();
      assert.equal(seen.env.REMOTE_USER, "alice");
      assert.equal(seen.env.USER, "alice");
    });

    it("a POST passes: the body goes to the responder only, after the authorizer said yes", async () => {
      const res = await get("/private/upload", { method: "POST", headers: GOOD, body: "posted body ✓" });
      assert.equal(res.status, 200);
      const seen = await res.json();
      assert.equal(seen.method, "POST");
      assert.equal(seen.body, "posted body ✓");
      // The authorizer's params have no CONTENT_LENGTH (nor a body), as the spec asks.
      assert.equal(seen.env.AUTHORIZER_BODY, "none");
      assert.equal(seen.env.AUTHORIZER_CONTENT_LENGTH, "unset");
    });

    it("a bad token is refused with the authorizer's 403 and body", async () => {
      const res = await get("/private/env", { headers: { authorization: "Bearer bad" } });
      assert.equal(res.status, 403);
      assert.equal(await res.text(), "denied");
    });

    it("no token: the authorizer's 401 and body", async () => {
      const res = await get("/private/env", { method: "POST", body: "x" });
      assert.equal(res.status, 401);
      assert.equal(await res.text(), "token required");
    });

    // fetchcgi writes Status: last (for HAProxy); lighttpd's authorizer mode keeps only Variable-*
    // lines until it has seen a status other than 200, so it drops every header before Status.
    it("a refusal keeps the authorizer's headers (WWW-Authenticate, Content-Type)", async () => {
      const res = await get("/private/env");
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), "Bearer");
      assert.equal(res.headers.get("content-type"), "text/plain;charset=UTF-8");
      await res.arrayBuffer();
    });

    it("paths outside /private/ go to the responder without the authorizer", async () => {
      const seen = await (await get("/open")).json();
      assert.equal(seen.role, "responder");
      assert.equal(seen.env.USER, undefined);
      assert.equal(seen.env.AUTHORIZER_URL, undefined);
    });
  });
}
