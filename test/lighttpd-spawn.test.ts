// fetchcgi spawned by a real lighttpd ("bin-path"), on every runtime: lighttpd started with
// examples/lighttpd-spawn.conf exactly as shipped, starting examples/lighttpd-spawn.sh (filled in
// with the runtime and the CLI) with its listening socket on fd 0, and the standard front checks.
// Needs lighttpd installed (`apt-get install -y lighttpd`): without it every test here fails, on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { describeFront, sleep, type Started } from "./lib/frontChecks.ts";
import { findLighttpd, startLighttpd } from "./lib/lighttpd.ts";
import { fillTemplate, templatePattern } from "./lib/server.ts";
import { APP, ROOT, type Runtime } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/lighttpd-spawn.conf");
const WRAPPER = path.join(ROOT, "examples/lighttpd-spawn.sh");

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

test("lighttpd is installed", () => {
  findLighttpd();
});

test("docs/lighttpd.md shows examples/lighttpd-spawn.conf and lighttpd-spawn.sh as they are", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/lighttpd.md"), "utf8");
  assert.ok(
    doc.includes("```lighttpd\n" + fs.readFileSync(CONF, "utf8") + "```\n"),
    "docs/lighttpd.md: the config block differs from examples/lighttpd-spawn.conf",
  );
  assert.ok(
    doc.includes("```sh\n" + fs.readFileSync(WRAPPER, "utf8") + "```\n"),
    "docs/lighttpd.md: the script block differs from examples/lighttpd-spawn.sh",
  );
});

/** lighttpd from examples/lighttpd-spawn.conf, spawning the wrapper filled in for `rt`. */
async function start(rt: Runtime, dir: string): Promise<Started> {
  const prefix = path.join(dir, "lighttpd");
  fs.mkdirSync(prefix, { recursive: true });
  const wrapper = path.join(prefix, "fetchcgi.sh");
  const command = [rt.bin, ...rt.cli([])].map(quote).join(" ");
  fs.writeFileSync(
    wrapper,
    fillTemplate(fs.readFileSync(WRAPPER, "utf8"), { __FETCHCGI__: command, __APP__: quote(APP) }, WRAPPER),
    { mode: 0o755 },
  );
  const lighttpd = await startLighttpd({
    template: CONF,
    dir,
    prefix,
    vars: { __WRAPPER__: wrapper },
    portVars: ["__PORT__"],
  });
  return {
    base: `http://127.0.0.1:${lighttpd.ports.__PORT__}`,
    conf: lighttpd.conf,
    // lighttpd's stderr, which the worker inherits, then error.log.
    log: lighttpd.log,
    stop: () => lighttpd.stop(),
  };
}

describeFront({
  name: "lighttpd bin-path",
  // As in test/lighttpd.test.ts (not imported: that would register its tests here too).
  quirks: {
    serverSoftware: /^lighttpd\/1\./,
    authorization: "passed",
    chunkedUpload: "buffered",
    streams: false,
    disconnectAborts: false,
    host: "port",
    uploadBytes: 96 * 1024 * 1024,
    failedStream: "whole",
  },
  start,
  extra(it, ctx) {
    it("runs examples/lighttpd-spawn.conf and lighttpd-spawn.sh verbatim apart from the placeholders", async () => {
      assert.match(ctx().conf!, templatePattern(fs.readFileSync(CONF, "utf8")));
      const binPath = /"bin-path"\s*=>\s*"([^"]+)"/.exec(ctx().conf!)![1];
      assert.match(fs.readFileSync(binPath, "utf8"), templatePattern(fs.readFileSync(WRAPPER, "utf8")));
    });

    it("the worker serves the socket lighttpd passed on fd 0; its stderr is lighttpd's", async () => {
      assert.match(ctx().log(), /fetchcgi: serving .* on fd:0 \(/);
    });

    it("a worker that dies is started again by lighttpd", async () => {
      const { pid } = await (await fetch(`${ctx().base}/rss`)).json();
      process.kill(pid, "SIGKILL");
      const deadline = performance.now() + 8000;
      for (;;) {
        const res = await fetch(`${ctx().base}/rss`).catch(() => undefined);
        const body = res?.ok ? await res.json() : await res?.text();
        if (res?.ok && body.pid !== pid) break;
        assert.ok(
          performance.now() < deadline,
          `no new worker within 8 s (last answer: ${res?.status} ${JSON.stringify(body)})`,
        );
        await sleep(200);
      }
      assert.equal(await (await fetch(`${ctx().base}/hello`)).text(), "hello");
    });
  },
});
