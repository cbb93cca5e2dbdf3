// nginx for tests: a private nginx started from a config template (see server.ts), with the
// fastcgi_params file of the installed nginx copied next to the config.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { findBinary, type Front, frontUser, startFront } from "./server.ts";

export { freePort } from "./server.ts";
export type Nginx = Front;

/** The nginx binary: $NGINX, else nginx on PATH or in the sbin dirs. Throws a clear error when missing. */
export function findNginx(): string {
  return findBinary(
    [process.env.NGINX, "nginx", "/usr/local/nginx/sbin/nginx"],
    "nginx is not installed (looked for $NGINX, nginx on PATH, /usr/sbin/nginx): install it, e.g. `apt-get install -y nginx`",
  );
}

/** The `fastcgi_params` file shipped with this nginx (next to its --conf-path). */
export function findFastcgiParams(bin: string): string {
  // nginx -V writes to stderr.
  const v = spawnSync(bin, ["-V"], { encoding: "utf8" });
  const text = `${v.stdout ?? ""}${v.stderr ?? ""}`;
  const confPath = /--conf-path=(\S+)/.exec(text)?.[1];
  const dirs = [confPath && path.dirname(confPath), "/etc/nginx", "/usr/local/nginx/conf"];
  for (const d of dirs) {
    if (d && fs.existsSync(path.join(d, "fastcgi_params"))) return path.join(d, "fastcgi_params");
  }
  throw new Error(`no fastcgi_params found for ${bin} (looked in ${dirs.filter(Boolean).join(", ")})`);
}

export interface NginxOptions {
  /** Config template; its __NAME__ tokens are replaced from `vars` and `portVars`. */
  template: string;
  /** Plain substitutions, e.g. { __SOCKET__: "/tmp/x/app.sock" }. */
  vars: Record<string, string>;
  /** Placeholders that each get a free TCP port, e.g. ["__PORT__", "__STREAM_PORT__"]. */
  portVars: string[];
  /** Prefix directory; nginx.conf, fastcgi_params, logs and temp dirs go here. */
  prefix: string;
}

/** Starts nginx in the foreground; SIGTERM stops it at once (a graceful SIGQUIT would wait for idle keep-alive clients). */
export function startNginx(opts: NginxOptions): Promise<Nginx> {
  const bin = findNginx();
  return startFront({
    name: "nginx",
    bin,
    confName: "nginx.conf",
    args: (conf, prefix) => ["-p", prefix + "/", "-c", conf, "-g", "daemon off;"],
    // `include fastcgi_params` is relative to the config file's directory.
    files: [[findFastcgiParams(bin), "fastcgi_params"]],
    logs: ["error.log"],
    ...opts,
  });
}

/** The account for nginx's `user` directive. */
export const nginxUser: () => string = frontUser;
