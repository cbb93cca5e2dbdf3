// fetchcgi as a FastCGI Authorizer behind Apache's mod_authnz_fcgi, on every runtime: one worker on
// TCP runs test/fixtures/apache-authorizer.js, apache2 runs examples/apache-authnz-fcgi.conf exactly as
// shipped (only its __PLACEHOLDERS__ replaced) and asks the worker, in the Authorizer role, about
// each request before passing it to the same worker as a Responder (mod_proxy_fcgi). A different
// role from the standard front checks, so these are focused checks of their own.
// Needs `apt-get install -y apache2`: without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { apacheModules, findApache, openDir, startApache } from "./lib/apache.ts";
import { annotate } from "./lib/failure.ts";
import { templatePattern } from "./lib/server.ts";
import { ROOT, runtimes, startWorker, tmpDir } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/apache-authnz-fcgi.conf");
const AUTHORIZER = path.join(ROOT, "test/fixtures/apache-authorizer.js");
const MODULES = {
  "mod_mpm_event.so": "apache2",
  "mod_authz_core.so": "apache2",
  "mod_authnz_fcgi.so": "apache2",
  "mod_proxy.so": "apache2",
  "mod_proxy_fcgi.so": "apache2",
};

test("apache2 and mod_authnz_fcgi are installed", () => {
  findApache();
  apacheModules(MODULES);
});

test("docs/apache.md shows examples/apache-authnz-fcgi.conf as it is", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/apache.md"), "utf8");
  assert.ok(
    doc.includes("```apache\n" + fs.readFileSync(CONF, "utf8") + "```\n"),
    "docs/apache.md: the config block differs from examples/apache-authnz-fcgi.conf",
  );
});

for (const rt of runtimes()) {
  describe(`apache mod_authnz_fcgi → ${rt.name}`, () => {
    let dir = "";
    let base = "";
    let conf = "";
    let log = () => "";
    let stop = async () => {};

    before(async () => {
      dir = tmpDir("fetchcgi-front-");
      openDir(dir);
      const worker = await startWorker(rt, [AUTHORIZER, "--listen", "127.0.0.1:0"]);
      stop = async () => void (await worker.stop());
      const apache = await startApache({
        template: CONF,
        prefix: path.join(dir, "apache"),
        vars: { __WORKER_PORT__: worker.address.split(":").pop()! },
        portVars: ["__PORT__"],
        modules: MODULES,
      });
      base = `http://127.0.0.1:${apache.ports.__PORT__}`;
      conf = apache.conf;
      log = () => `--- worker (${rt.name}) ---\n${worker.log()}\n--- apache ---\n${apache.log()}`;
      stop = async () => {
        await apache.stop();
        await worker.stop();
      };
    });

    after(async () => {
      await stop().catch(() => {});
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** A test whose failure message carries both logs. */
    const it = (name: string, fn: () => Promise<void>) =>
      test(name, async () => {
        try {
          await fn();
        } catch (err) {
          throw annotate(err, `apache mod_authnz_fcgi → ${rt.name}`, log().split("\n").slice(-40).join("\n"));
        }
      });

    it("runs examples/apache-authnz-fcgi.conf verbatim apart from the placeholders", async () => {
      assert.match(conf, templatePattern(fs.readFileSync(CONF, "utf8")));
    });

    it("a good token passes: the responder sees REMOTE_USER and the Authorizer's Variable-* as env", async () => {
      const res = await fetch(`${base}/env?q=1`, { headers: { authorization: "Bearer good" } });
      assert.equal(res.status, 200);
      const { env, role } = await res.json();
      assert.equal(role, "responder");
      assert.equal(env.REMOTE_USER, "alice");
      // Variable-NAME becomes env var NAME as the header spelled it: fetchcgi upper-cases an Authorizer's Variable-* names.
      assert.equal(env.USER, "alice");
      // The Authorizer was asked about the request's own URL, in Apache's AUTHENTICATOR sub-role.
      assert.equal(env.AUTHZ_URL, `${base}/env?q=1`);
      assert.equal(env.AUTHZ_ROLE, "AUTHENTICATOR");
      assert.equal(env.HTTP_AUTHORIZATION, "Bearer good");
    });

    it("the request body goes to the responder whole (the Authorizer gets none)", async () => {
      const res = await fetch(`${base}/echo`, {
        method: "POST",
        body: "payload ✓",
        headers: { authorization: "Bearer good" },
      });
      assert.equal(res.status, 200);
      const echo = await res.json();
      assert.equal(echo.body, "payload ✓");
      assert.equal(echo.headers.authorization, "Bearer good");
    });

    it("a bad or missing token gets the Authorizer's 403, and the app is not reached", async () => {
      for (const headers of [{ authorization: "Bearer bad" }, {}] as Record<string, string>[]) {
        const res = await fetch(`${base}/echo`, { method: "POST", body: "x", headers });
        assert.equal(res.status, 403);
        // Apache relays a denial body only if it came in the header's STDOUT record, which is
        // where fetchcgi puts a body that is ready at once.
        const body = await res.text();
        assert.equal(body, "denied");
      }
    });

    it("a public location needs no token (the Authorizer would refuse this request)", async () => {
      const res = await fetch(`${base}/hello`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "hello");
    });
  });
}
