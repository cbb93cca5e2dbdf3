// What the CLI says and how it exits, on every runtime: it serves any function or object with a
// fetch() (a thenable Proxy too), refuses anything else, never ends by itself with status 0, and
// gives every listen failure in one form: `fetchcgi: cannot listen on ADDRESS: REASON (WHAT TO DO)`,
// status 1, no pointer to --help (which only usage errors get, with status 2).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { describe, test } from "node:test";
import { fetchRaw } from "./lib/fcgi.ts";
import { APP, ROOT, type Runtime, runtimes, startWorker, tmpDir } from "./lib/workers.ts";

interface Exit {
  code: number | null;
  stderr: string;
}

/** Runs the CLI on `rt` until it exits (killed after 20 s: it must not hang). */
function run(rt: Runtime, args: string[], launcher: string[] = []): Promise<Exit> {
  const [cmd, ...rest] = [...launcher, rt.bin, ...rt.cli(args)];
  const proc = spawn(cmd, rest, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  proc.stdout.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20000);
  return new Promise((resolve) =>
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.trim() });
    })
  );
}

/** Fails to start with exactly `message`, status 1. */
async function refuses(rt: Runtime, args: string[], message: string, launcher?: string[]): Promise<void> {
  const { code, stderr } = await run(rt, args, launcher);
  assert.equal(stderr, message);
  assert.equal(code, 1);
}

const listenFails = (address: string, reason: string) => `fetchcgi: cannot listen on ${address}: ${reason}`;

/** A TCP port nothing listens on (just closed). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function writeApp(dir: string, name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

const isRoot = process.getuid?.() === 0;
/**
 * As root the worker cannot be refused a directory or a low port; it runs without the capabilities
 * that let it (still uid 0, so it reads the checkout wherever it is).
 */
const unprivileged = isRoot ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-net_bind_service"] : [];
/** A directory the worker may search but not write in. */
function readOnlyDir(): string {
  const dir = tmpDir();
  fs.chmodSync(dir, 0o555);
  if (isRoot) {
    fs.chownSync(dir, 65534, 65534); // nobody: not the worker's, which has no CAP_DAC_OVERRIDE
    fs.chmodSync(dir, 0o755);
  }
  return dir;
}
const UNPRIVILEGED_PORT_START = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"));

/** Connects to the Unix socket as nobody (in group 0, the worker's, or in none); resolves with the error code or "connected". */
function connectAsNobody(socket: string, inWorkersGroup: boolean): Promise<string> {
  const node = runtimes()[0].bin; // the machine's node: readable by anyone, wherever the checkout is
  const script = `require("net").connect(${
    JSON.stringify(socket)
  }).on("connect", function () { console.log("connected"); this.destroy(); }).on("error", (e) => console.log(e.code))`;
  const proc = spawn("setpriv", [
    "--reuid=nobody",
    "--regid=nogroup",
    inWorkersGroup ? "--groups=0" : "--clear-groups",
    node,
    "-e",
    script,
  ], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  return new Promise((resolve) => proc.on("close", () => resolve(out.trim())));
}

for (const rt of runtimes()) {
  describe(`the CLI on ${rt.name}`, () => {
    test("serves a default export shaped like itty-router's AutoRouter (a Proxy that answers `then`)", async () => {
      const w = await startWorker(rt, [path.join(ROOT, "test/fixtures/auto-router.js"), "--listen", ":0"]);
      try {
        const r = await fetchRaw(w.address, "GET", "/hello");
        assert.equal(r.status, 200);
        assert.equal(r.text, "hello from the router");
      } finally {
        assert.equal(await w.stop(), 0);
      }
    });

    test("refuses a default export it cannot serve: what it found, status 1", async () => {
      const dir = tmpDir();
      const cases: [string, string, string][] = [
        ["number.mjs", "export default 42;", "exports default a number"],
        ["null.mjs", "export default null;", "exports default null"],
        ["no-fetch.mjs", "export default { get() {} };", "exports default an object without a fetch() method"],
        ["no-default.mjs", "export const app = { fetch() {} };", "has no default export"],
      ];
      for (const [name, source, what] of cases) {
        const app = writeApp(dir, name, source);
        await refuses(
          rt,
          [app, "--listen", ":0"],
          `fetchcgi: ${app} ${what}: export default a { fetch(request, env, ctx) } object or a function`,
        );
      }
    });

    test("an APP whose loading never finishes: a message and status 1, never a silent 0", async () => {
      const app = writeApp(
        tmpDir(),
        "hangs.mjs",
        "await new Promise(() => {});\nexport default { fetch: () => new Response('never') };\n",
      );
      const { code, stderr } = await run(rt, [app, "--listen", ":0"]);
      assert.equal(code, 1);
      // Deno stops it itself, with a message of its own.
      if (rt.name === "deno") assert.match(stderr, /Top-level await promise never resolved/);
      else {assert.equal(
          stderr,
          `fetchcgi: nothing was left to run while loading ${app} (a promise that never settles?)`,
        );}
    });

    test("--listen PORT is :PORT, on 127.0.0.1 (PHP-FPM's `listen = 9000`)", async () => {
      const port = await freePort();
      const w = await startWorker(rt, [APP, "--listen", String(port)]);
      try {
        assert.equal(w.address, `tcp:127.0.0.1:${port}`);
        assert.equal((await fetchRaw(w.address, "GET", "/hello")).text, "hello");
      } finally {
        await w.stop();
      }
    });

    test("a Unix socket path longer than 107 bytes is refused before binding", async () => {
      const dir = tmpDir();
      const sock = path.join(dir, "s".repeat(120 - dir.length) + ".sock");
      await refuses(
        rt,
        [APP, "--listen", sock],
        listenFails(
          `unix:${sock}`,
          `the path is 126 bytes, longer than the 107 a Unix socket's path may have (choose a shorter one, e.g. under /run)`,
        ),
      );
      assert.deepEqual(fs.readdirSync(dir), [], "nothing bound, not even a path cut short");
    });

    test("a TCP port in use", async () => {
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
      const { port } = blocker.address() as net.AddressInfo;
      try {
        await refuses(
          rt,
          [APP, "--listen", `127.0.0.1:${port}`],
          listenFails(
            `tcp:127.0.0.1:${port}`,
            `port ${port} is in use (another process listens there: find it with \`ss -ltnp\` and stop it, or choose another port)`,
          ),
        );
      } finally {
        blocker.close();
      }
    });

    test("a Unix socket a running worker listens on", async () => {
      const sock = path.join(tmpDir(), "app.sock");
      const w = await startWorker(rt, [APP, "--listen", sock]);
      try {
        await refuses(
          rt,
          [APP, "--listen", sock],
          listenFails(
            `unix:${sock}`,
            "a running process is listening there (stop that process first, or choose another path)",
          ),
        );
        assert.equal((await fetchRaw(w.address, "GET", "/hello")).text, "hello", "the running worker is untouched");
      } finally {
        await w.stop();
      }
    });

    test("a file that is not a socket at the path", async () => {
      const file = path.join(tmpDir(), "app.sock");
      fs.writeFileSync(file, "data");
      await refuses(
        rt,
        [APP, "--listen", `unix:${file}`],
        listenFails(
          `unix:${file}`,
          "a file that is not a socket is there (it is never replaced: remove it, or choose another path)",
        ),
      );
      assert.equal(fs.readFileSync(file, "utf8"), "data");
    });

    test("a Unix socket in a directory that does not exist", async () => {
      const dir = path.join(tmpDir(), "missing");
      await refuses(
        rt,
        [APP, "--listen", `${dir}/app.sock`],
        listenFails(
          `unix:${dir}/app.sock`,
          `the directory ${dir} does not exist (create it first; a systemd unit's RuntimeDirectory= makes one under /run)`,
        ),
      );
    });

    test("a Unix socket in a directory the worker may not write in", async () => {
      const dir = readOnlyDir();
      await refuses(
        rt,
        [APP, "--listen", `${dir}/app.sock`],
        listenFails(
          `unix:${dir}/app.sock`,
          `permission denied in ${dir} (the worker's user needs write and search (x) permission on that directory)`,
        ),
        unprivileged,
      );
    });

    test("a port below 1024 without the privilege", {
      skip: UNPRIVILEGED_PORT_START <= 80 && "this machine lets anyone bind low ports",
    }, async () => {
      await refuses(
        rt,
        [APP, "--listen", ":80"],
        listenFails(
          "tcp:127.0.0.1:80",
          "ports below 1024 need privileges (use a port from 1024 up, or give the worker CAP_NET_BIND_SERVICE)",
        ),
        unprivileged,
      );
    });

    test("an address that is not this machine's", async () => {
      await refuses(
        rt,
        [APP, "--listen", "192.0.2.1:9000"],
        listenFails(
          "tcp:192.0.2.1:9000",
          "192.0.2.1 is not an address of this machine (use one of its own, e.g. 127.0.0.1, or 0.0.0.0 for all of them)",
        ),
      );
    });

    test("fd:0 that is not a socket", async () => {
      await refuses(
        rt,
        [APP, "--listen", "fd:0"],
        listenFails(
          "fd:0",
          "fd 0 is not a listening socket (start the worker from a web server or spawn-fcgi that passes one, or give --listen an address)",
        ),
      );
    });

    test("usage errors, and only they, point to --help, with status 2", async () => {
      for (
        const [args, message] of [
          [[APP, "--bogus"], "unknown option --bogus"],
          [
            [APP],
            "no listen address given and fd 0 is not a socket: give one, e.g. 127.0.0.1:9000 (--listen, or serve()'s listen option)",
          ],
          [
            [APP, "--listen", "localhost"],
            `listen address "localhost" has no port; use tcp:HOST:PORT, HOST:PORT, [IPv6]:PORT, :PORT, PORT, unix:PATH, /absolute/path or fd:N`,
          ],
        ] as const
      ) {
        const { code, stderr } = await run(rt, [...args]);
        assert.equal(stderr, `fetchcgi: ${message}\nRun fetchcgi --help for usage.`);
        assert.equal(code, 2);
      }
    });

    test("a Unix socket is 660 by default, so the web server's group can connect and others cannot", async () => {
      const dir = tmpDir();
      fs.chmodSync(dir, 0o755); // nobody may reach the socket
      const sock = path.join(dir, "app.sock");
      const w = await startWorker(rt, [APP, "--listen", sock]);
      try {
        assert.match(w.log(), new RegExp(` on unix:${sock} \\(${rt.name.replace(/\d+$/, "")}, mode 660\\)`));
        assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
        if (isRoot) {
          assert.equal(await connectAsNobody(sock, true), "connected", "a user in the socket's group");
          assert.equal(await connectAsNobody(sock, false), "EACCES", "a user outside it");
        }
      } finally {
        assert.equal(await w.stop(), 0);
      }
    });
  });
}

describe("Deno's narrow permissions", () => {
  const deno = runtimes().find((r) => r.name === "deno")!;
  const withFlags = (flags: string[]): Runtime => ({
    ...deno,
    cli: (args) => ["run", ...flags, path.join(ROOT, "cli.ts"), ...args],
  });

  test("without --allow-sys the socket still gets its mode, set just after binding", async () => {
    const sock = path.join(tmpDir(), "app.sock");
    for (const [mode, flags] of [["660", []], ["600", ["--allow-sys"]], ["640", []]] as const) {
      const args = mode === "660" ? [APP, "--listen", sock] : [APP, "--listen", sock, "--socket-mode", mode];
      const w = await startWorker(
        withFlags(["--allow-read", `--allow-write=${sock}`, `--allow-net=unix:${sock}`, ...flags]),
        args,
      );
      try {
        assert.match(w.log(), new RegExp(`\\(deno, mode ${mode}\\)`));
        assert.equal(fs.statSync(sock).mode & 0o777, parseInt(mode, 8));
        assert.equal((await fetchRaw(w.address, "GET", "/hello")).text, "hello");
      } finally {
        assert.equal(await w.stop(), 0);
      }
    }
  });

  test("a permission Deno refuses is a listen failure in the same form, naming the flag", async () => {
    const port = await freePort();
    await refuses(
      withFlags(["--allow-read"]),
      [APP, "--listen", `:${port}`],
      listenFails(
        `tcp:127.0.0.1:${port}`,
        `Deno's permissions do not allow it (Requires net access to "127.0.0.1:${port}", run again with the --allow-net flag)`,
      ),
    );
  });
});
