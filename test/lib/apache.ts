// Apache httpd for tests: a private apache2 started in the foreground from one of the examples/
// configs (see server.ts), with its modules loaded straight from the package's module directory.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findBinary, type Front, startFront } from "./server.ts";

export type Apache = Front;

/** The apache2 binary: $APACHE2, else apache2 (Debian) or httpd on PATH or in the sbin dirs. */
export function findApache(): string {
  return findBinary(
    [process.env.APACHE2, "apache2", "httpd"],
    "Apache httpd is not installed (looked for $APACHE2, apache2, httpd): install it, e.g. `apt-get install -y apache2`",
  );
}

/** The directory of Apache's module .so files, checked to hold `modules` (each with the package that ships it). */
export function apacheModules(modules: Record<string, string>): string {
  const dirs = [
    process.env.APACHE2_MODULES,
    "/usr/lib/apache2/modules",
    "/usr/lib64/httpd/modules",
    "/usr/lib/httpd/modules",
  ].filter(Boolean) as string[];
  const dir = dirs.find((d) => fs.existsSync(path.join(d, "mod_proxy.so"))) ?? dirs[0];
  for (const [mod, pkg] of Object.entries(modules)) {
    if (!fs.existsSync(path.join(dir, mod))) {
      throw new Error(`${mod} is not in ${dir}: install it, e.g. \`apt-get install -y ${pkg}\``);
    }
  }
  return dir;
}

/**
 * User and Group for the config. Apache refuses to run its children as root, so when we are
 * root they run as www-data (else nobody); otherwise Apache cannot switch and we give our own ids.
 */
export function apacheAccount(): { user: string; group: string } {
  if (process.getuid?.() !== 0) return { user: `#${process.getuid!()}`, group: `#${process.getgid!()}` };
  const passwd = fs.readFileSync("/etc/passwd", "utf8");
  const name = /^www-data:/m.test(passwd) ? "www-data" : "nobody";
  const gid = new RegExp(`^${name}:[^:]*:\\d+:(\\d+):`, "m").exec(passwd)?.[1] ?? "65534";
  return { user: name, group: `#${gid}` };
}

/** The test's temp dir, opened up (search/read) so that Apache's children can reach what is in it. */
export function openDir(dir: string): void {
  if (os.userInfo().uid === 0) fs.chmodSync(dir, 0o755);
}

export interface ApacheOptions {
  /** Config template from examples/; __PREFIX__, __MODULES__, __USER__ and __GROUP__ are filled here. */
  template: string;
  vars?: Record<string, string>;
  portVars: string[];
  prefix: string;
  /** Module .so files the config loads, each with the Debian package that ships it. */
  modules: Record<string, string>;
}

/** Starts apache2 in the foreground (-D FOREGROUND); SIGTERM stops it and its children at once. */
export function startApache(opts: ApacheOptions): Promise<Apache> {
  const bin = findApache();
  const { user, group } = apacheAccount();
  return startFront({
    name: "apache2",
    bin,
    template: opts.template,
    confName: "httpd.conf",
    args: (conf) => ["-f", conf, "-D", "FOREGROUND"],
    vars: { __MODULES__: apacheModules(opts.modules), __USER__: user, __GROUP__: group, ...opts.vars },
    portVars: opts.portVars,
    prefix: opts.prefix,
    logs: ["error.log"],
  });
}
