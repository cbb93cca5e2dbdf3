// h2o for tests: a private h2o started in the foreground from a config template (see server.ts).

import { findBinary, type Front, startFront } from "./server.ts";

/** The h2o binary: $H2O, else h2o on PATH. Throws a clear error when missing. */
export function findH2o(): string {
  return findBinary(
    [process.env.H2O, "h2o"],
    "h2o is not installed (looked for $H2O, h2o on PATH): install it, e.g. `apt-get install -y h2o`",
  );
}

/** Starts `h2o -c CONF` in the foreground (no `-m daemon`); its pid file and logs live in `prefix`. */
export function startH2o(
  opts: { template: string; prefix: string; vars: Record<string, string>; portVars: string[] },
): Promise<Front> {
  return startFront({
    name: "h2o",
    bin: findH2o(),
    confName: "h2o.conf",
    args: (conf) => ["-c", conf],
    logs: ["error.log"],
    // SIGTERM is graceful: h2o waits ~4 s for idle keep-alive clients. SIGINT stops it at once.
    stopSignal: "SIGINT",
    ...opts,
  });
}
