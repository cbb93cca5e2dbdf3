// examples/fetchcgi-wrapper.sh made runnable for one runtime: the script a spawning front
// (h2o fastcgi.spawn, cgi-fcgi -connect) starts, with the listening socket on fd 0.

import fs from "node:fs";
import path from "node:path";
import { fillTemplate } from "./server.ts";
import { APP, ROOT, type Runtime } from "./workers.ts";

export const WRAPPER: string = path.join(ROOT, "examples/fetchcgi-wrapper.sh");

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The wrapper for `rt`, written executable into `dir`; returns its path. */
export function writeWrapper(rt: Runtime, dir: string): string {
  const file = path.join(dir, "fetchcgi-wrapper.sh");
  // rt.cli([]) ends where the CLI's own arguments start, so the app goes last.
  const fetchcgi = [rt.bin, ...rt.cli([])].map(shellQuote).join(" ");
  fs.writeFileSync(
    file,
    fillTemplate(fs.readFileSync(WRAPPER, "utf8"), { __FETCHCGI__: fetchcgi, __APP__: APP }, WRAPPER),
    { mode: 0o755 },
  );
  return file;
}
