// Listening on every ADDR form on every runtime: TCP (v4, v6), Unix sockets (mode, stale and live
// files, unlink on close) and an inherited fd 0 the way spawn-fcgi hands it over.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { fetchRaw } from "./lib/fcgi.ts";
import { APP, runtimes, startWorker, tmpDir } from "./lib/workers.ts";

function spawnFcgi(): string {
  try {
    return execFileSync("sh", ["-c", "command -v spawn-fcgi"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("spawn-fcgi is not installed (apt-get install -y spawn-fcgi): the fd-0 tests need it");
  }
}

async function hello(address: string): Promise<void> {
  const r = await fetchRaw(address, "GET", "/hello");
  assert.equal(r.status, 200);
  assert.equal(r.text, "hello");
}

for (const rt of runtimes()) {
  describe(`listening on ${rt.name}`, () => {
    test("tcp:[::1]:0 (IPv6) and HOST:PORT forms", async () => {
      const w = await startWorker(rt, [APP, "--listen", "[::1]:0"]);
      try {
        assert.match(w.address, /^tcp:\[::1\]:\d+$/);
        await hello(w.address);
      } finally {
        await w.stop();
      }
      const v4 = await startWorker(rt, [APP, "--listen", "tcp:127.0.0.1:0"]);
      try {
        await hello(v4.address);
      } finally {
        await v4.stop();
      }
    });

    test("unix socket with --socket-mode 660: mode set, served, removed on exit", async () => {
      const dir = tmpDir();
      const sock = path.join(dir, "app.sock");
      const w = await startWorker(rt, [APP, "--listen", `unix:${sock}`, "--socket-mode", "660"]);
      try {
        assert.equal(w.address, `unix:${sock}`);
        assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
        await hello(w.address);
      } finally {
        assert.equal(await w.stop(), 0);
      }
      assert.equal(fs.existsSync(sock), false, "socket file removed on close");
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("a stale socket file from a dead worker is replaced; a live one is refused", async () => {
      const dir = tmpDir();
      const sock = path.join(dir, "app.sock");
      // A process that binds the path and dies without cleaning up.
      const dead = spawn(process.execPath, [
        "-e",
        `require("net").createServer().listen(${JSON.stringify(sock)}, () => console.log("up"))`,
      ]);
      await new Promise((r) => dead.stdout.once("data", r));
      dead.kill("SIGKILL");
      await new Promise((r) => dead.once("exit", r));
      assert.ok(fs.existsSync(sock), "stale file left behind");
      const w = await startWorker(rt, [APP, "--listen", sock]);
      try {
        await hello(w.address);
        await assert.rejects(startWorker(rt, [APP, "--listen", sock]), /a running process is listening there/);
        await hello(w.address);
      } finally {
        await w.stop();
      }
      fs.writeFileSync(sock, "not a socket");
      await assert.rejects(startWorker(rt, [APP, "--listen", sock]), /not a socket/);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("fd 0 from spawn-fcgi (Unix socket): found without --listen", async () => {
      const dir = tmpDir();
      const sock = path.join(dir, "spawned.sock");
      const w = await startWorker(rt, [APP], { launcher: [spawnFcgi(), "-n", "-s", sock, "-M", "0660", "--"] });
      try {
        assert.equal(w.address, "fd:0");
        for (let i = 0; i < 3; i++) await hello(`unix:${sock}`);
      } finally {
        assert.equal(await w.stop(), 0);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("fd 0 from spawn-fcgi (TCP) with --listen fd:0", async () => {
      const port = 20000 + Math.floor(Math.random() * 10000);
      const w = await startWorker(rt, [APP, "--listen", "fd:0"], {
        launcher: [spawnFcgi(), "-n", "-a", "127.0.0.1", "-p", String(port), "--"],
      });
      try {
        for (let i = 0; i < 3; i++) await hello(`tcp:127.0.0.1:${port}`);
      } finally {
        await w.stop();
      }
    });

    test("APP paths with spaces, # and %: relative to the working directory, with .., and absolute", async () => {
      // The CLI turns APP into a file: URL itself (node:path and node:url cost Bun and Deno idle RSS).
      const dir = path.join(tmpDir(), "we ird#dir%20");
      fs.mkdirSync(dir);
      fs.copyFileSync(APP, path.join(dir, "a pp.js"));
      try {
        for (const spec of ["a pp.js", "./a pp.js", "../we ird#dir%20/a pp.js", path.join(dir, "a pp.js")]) {
          const w = await startWorker(rt, [spec, "--listen", ":0"], { cwd: dir });
          try {
            await hello(w.address);
          } finally {
            await w.stop();
          }
        }
      } finally {
        fs.rmSync(path.dirname(dir), { recursive: true, force: true });
      }
    });

    test("bad configuration fails at start with a clear message", async () => {
      await assert.rejects(startWorker(rt, [APP, "--listen", "localhost"]), /has no port/);
      await assert.rejects(
        startWorker(rt, [APP, "--listen", ":0", "--max-conns", "0"]),
        /maxConns must be an integer >= 1/,
      );
      await assert.rejects(startWorker(rt, [APP, "--listen", ":0", "--socket-mode", "660"]), /only to a Unix socket/);
      await assert.rejects(startWorker(rt, [APP, "--bogus"]), /unknown option --bogus/);
      await assert.rejects(startWorker(rt, [path.join(ROOT_FIXTURES, "missing.js"), "--listen", ":0"]), /cannot load/);
      await assert.rejects(startWorker(rt, [APP]), /fd 0 is not a socket/);
    });
  });
}

const ROOT_FIXTURES = path.dirname(APP);

describe("the README's serve.ts commands", () => {
  // examples/serve.ts listens on 127.0.0.1:9000, as written in the README.
  async function runs(cmd: string, args: string[]): Promise<void> {
    const proc = spawn(cmd, args, { cwd: path.dirname(ROOT_FIXTURES), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (out += d));
    try {
      for (let i = 0; !out.includes("FastCGI worker on tcp:127.0.0.1:9000"); i++) {
        if (i > 200 || proc.exitCode !== null) throw new Error(`${cmd} ${args.join(" ")} did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await fetchRaw("tcp:127.0.0.1:9000", "GET", "/from-readme");
      assert.equal(r.text, "hello /from-readme\n");
    } finally {
      proc.kill("SIGKILL");
      await new Promise((r) => proc.once("exit", r));
    }
  }
  const root = path.resolve(ROOT_FIXTURES, "../..");
  const serveTs = path.join(root, "examples/serve.ts");

  test("bun run serve.ts", () => runs(runtimes().find((r) => r.name === "bun")!.bin, ["run", serveTs]));
  test("deno run --allow-net serve.ts", () =>
    runs(runtimes().find((r) => r.name === "deno")!.bin, ["run", "--allow-net", serveTs]));
  test("node serve.ts (Node 24, type stripping)", () =>
    runs(runtimes().find((r) => r.name === "node24")!.bin, [serveTs]));
  test("node serve.js (compiled with esbuild, the machine's Node)", async () => {
    const dir = tmpDir();
    const out = path.join(dir, "serve.js");
    execFileSync(path.join(root, "node_modules/.bin/esbuild"), [
      serveTs,
      "--bundle",
      "--platform=node",
      "--format=esm",
      `--outfile=${out}`,
      "--log-level=warning",
    ]);
    try {
      await runs(runtimes()[0].bin, [out]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
