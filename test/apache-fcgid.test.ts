// fetchcgi started by Apache's mod_fcgid (the shared-hosting setup), on every runtime: apache2 runs
// examples/apache-fcgid.conf, the site's directory holds examples/apache-fcgid.htaccess, whose
// FcgidWrapper is examples/fetchcgi.fcgi running the CLI on the runtime under test; mod_fcgid
// starts that one worker process itself, with a listening Unix socket on fd 0. All three files are
// used exactly as shipped (only their __PLACEHOLDERS__ replaced), through the standard front checks.
// Needs `apt-get install -y apache2 libapache2-mod-fcgid`: without them every test here fails.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { apacheModules, findApache, openDir, startApache } from "./lib/apache.ts";
import { describeFront, sleep, type Started } from "./lib/frontChecks.ts";
import { fillTemplate, templatePattern } from "./lib/server.ts";
import { APP, ROOT, type Runtime } from "./lib/workers.ts";

const CONF = path.join(ROOT, "examples/apache-fcgid.conf");
const HTACCESS = path.join(ROOT, "examples/apache-fcgid.htaccess");
const WRAPPER = path.join(ROOT, "examples/fetchcgi.fcgi");
const MODULES = {
  "mod_mpm_event.so": "apache2",
  "mod_authz_core.so": "apache2",
  "mod_fcgid.so": "libapache2-mod-fcgid",
};

test("apache2 and mod_fcgid are installed", () => {
  findApache();
  apacheModules(MODULES);
});

test("docs/apache.md shows the mod_fcgid config, .htaccess and wrapper as they are", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/apache.md"), "utf8");
  for (const [file, lang] of [[CONF, "apache"], [HTACCESS, "apache"], [WRAPPER, "sh"]]) {
    assert.ok(
      doc.includes("```" + lang + "\n" + fs.readFileSync(file, "utf8") + "```\n"),
      `docs/apache.md: no copy of ${path.basename(file)}`,
    );
  }
});

const sh = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

/** The site (its .htaccess and the wrapper running `rt`) and Apache from examples/apache-fcgid.conf. */
async function start(rt: Runtime, dir: string): Promise<Started> {
  openDir(dir);
  const docroot = path.join(dir, "www");
  const wrapper = path.join(dir, "fetchcgi.fcgi");
  fs.mkdirSync(docroot);
  const fetchcgi = [rt.bin, ...rt.cli([])].map(sh).join(" ");
  fs.writeFileSync(
    wrapper,
    fillTemplate(fs.readFileSync(WRAPPER, "utf8"), { __FETCHCGI__: fetchcgi, __APP__: APP }, WRAPPER),
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(docroot, ".htaccess"),
    fillTemplate(fs.readFileSync(HTACCESS, "utf8"), { __WRAPPER__: wrapper }, HTACCESS),
  );
  const apache = await startApache({
    template: CONF,
    prefix: path.join(dir, "apache"),
    vars: { __DOCROOT__: docroot },
    portVars: ["__PORT__"],
    modules: MODULES,
  });
  return {
    base: `http://127.0.0.1:${apache.ports.__PORT__}`,
    conf: apache.conf,
    log: apache.log,
    stop: () => apache.stop(),
  };
}

describeFront({
  name: "apache mod_fcgid",
  // mod_fcgid reads the whole body before it starts the request; FcgidOutputBufferSize 0 lets
  // responses stream; /slow writes nothing, so a client that left goes unnoticed.
  quirks: {
    serverSoftware: /^Apache\/2\.4\.\S+ .*mod_fcgid\/2\./,
    authorization: "passed",
    chunkedUpload: "buffered",
    streams: true,
    disconnectAborts: false,
    host: "port",
    failedStream: "error-page",
  },
  start,
  extra(it, ctx) {
    it("runs the shipped config, .htaccess and wrapper verbatim apart from the placeholders", async () => {
      assert.match(ctx().conf!, templatePattern(fs.readFileSync(CONF, "utf8")));
      const docroot = /^DocumentRoot "(.+)"$/m.exec(ctx().conf!)![1];
      const htaccess = fs.readFileSync(path.join(docroot, ".htaccess"), "utf8");
      assert.match(htaccess, templatePattern(fs.readFileSync(HTACCESS, "utf8")));
      const wrapper = /^FcgidWrapper "(.+)" virtual$/m.exec(htaccess)![1];
      assert.match(fs.readFileSync(wrapper, "utf8"), templatePattern(fs.readFileSync(WRAPPER, "utf8")));
    });

    it("one worker process, started by mod_fcgid with a socket on fd 0", async () => {
      const pids = new Set<number>();
      for (let i = 0; i < 4; i++) pids.add((await (await fetch(`${ctx().base}/rss`)).json()).pid);
      assert.equal(pids.size, 1, `requests went to pids ${[...pids]}`);
      const [pid] = pids;
      assert.match(fs.readlinkSync(`/proc/${pid}/fd/0`), /^socket:/);
      assert.ok(
        fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(APP),
        "the worker does not run the app",
      );
    });

    it("env: the params mod_fcgid sends (the first path segment is the script)", async () => {
      const { env, remote } = await (await fetch(`${ctx().base}/env/sub/path?q=1`)).json();
      const docroot = /^DocumentRoot "(.+)"$/m.exec(ctx().conf!)![1];
      assert.equal(env.REQUEST_URI, "/env/sub/path?q=1");
      assert.equal(env.SCRIPT_NAME, "/env");
      assert.equal(env.PATH_INFO, "/sub/path");
      assert.equal(env.SCRIPT_FILENAME, `${docroot}/env`);
      assert.equal(env.HTTP_CONNECTION, "close");
      assert.equal(env.CONTENT_LENGTH, "0");
      assert.equal(remote.family, "unix");
    });

    it("ctx.log and the worker's own stderr reach Apache's error log", async () => {
      assert.equal(await (await fetch(`${ctx().base}/log`)).text(), "logged");
      await (await fetch(`${ctx().base}/throw`)).arrayBuffer();
      const deadline = performance.now() + 3000;
      for (const line of [/mod_fcgid: stderr: a line for the error log/, /handler threw on purpose/]) {
        while (!line.test(ctx().log())) {
          assert.ok(performance.now() < deadline, `no ${line} in error.log`);
          await sleep(50);
        }
      }
    });
  },
});
