// Every option of serve() and the CLI in one table: flag, kind, default, bounds, meaning. The
// worker and serve() validate and apply defaults from it, the CLI parses flags and prints --help
// from it, and test/unit/options.test.ts holds README's option table and the option types to it.
// Plain data, read once per serve(): nothing here runs per request.

import type { WorkerOptions } from "./types.ts";

/** Integers (counts, bytes, milliseconds), on/off switches (`--X`, `--no-X`), text, comma lists. */
export type OptionKind = "count" | "bytes" | "ms" | "boolean" | "string" | "list";

/** serve()'s option names: the worker's, and the three its listener takes (runtimes/common.ts). */
export type OptionName = Exclude<keyof WorkerOptions, "log"> | "listen" | "socketMode" | "backlog";

export interface OptionSpec {
  readonly flag: string;
  readonly kind: OptionKind;
  /** The value's placeholder in --help and README; none for a switch. */
  readonly arg?: string;
  /** The library's default; none when it is not a value (fd 0, any client). */
  readonly default?: number | boolean;
  /** The CLI's default, where it differs (the process is the CLI's own). */
  readonly cliDefault?: boolean;
  /** The default as people read it (--help, README), where the value alone does not say it. */
  readonly shown?: string;
  readonly min?: number;
  readonly max?: number;
  /** What it does, in a sentence; for a switch, what `--X` does. */
  readonly meaning: string;
  /** For a switch: what `--no-X` does. */
  readonly off?: string;
  /** Who applies it: the worker, or serve()'s listener. */
  readonly applies: "worker" | "listen";
}

/** In README's order, which is --help's. */
export const OPTIONS: { readonly [K in OptionName]: OptionSpec } = {
  listen: {
    flag: "--listen",
    kind: "string",
    arg: "ADDR",
    shown: "fd 0 if it is a socket",
    applies: "listen",
    meaning: "where to listen: an ADDR below",
  },
  socketMode: {
    flag: "--socket-mode",
    kind: "string",
    arg: "MODE",
    default: 0o660,
    shown: "660",
    applies: "listen",
    meaning:
      "Unix socket permissions, applied before it accepts; 660 lets the owner and its group (e.g. the web server's) connect, and no one else",
  },
  maxConns: {
    flag: "--max-conns",
    kind: "count",
    arg: "N",
    default: 1024,
    min: 1,
    applies: "worker",
    meaning: "concurrent connections, advertised as FCGI_MAX_CONNS; more wait to be accepted until one closes",
  },
  // Not INT_MAX: listen(2) caps it at the system's maximum anyway (Linux: net.core.somaxconn,
  // 4096 since 5.4), and Deno's node:net (an inherited fd on Deno) turns INT_MAX into 128.
  backlog: {
    flag: "--backlog",
    kind: "count",
    arg: "N",
    default: 65535,
    min: 1,
    max: 0x7fffffff,
    shown: "the system's maximum",
    applies: "listen",
    meaning:
      "connections that may wait to be accepted (the listen backlog, asked for as 65535 by default, which the system caps: net.core.somaxconn on Linux; on Node and Bun also those held unread past --max-conns); more are refused",
  },
  maxRequests: {
    flag: "--max-requests",
    kind: "count",
    arg: "N",
    default: 1024,
    min: 1,
    applies: "worker",
    meaning: "concurrent requests, advertised as FCGI_MAX_REQS; more are answered OVERLOADED",
  },
  multiplex: {
    flag: "--multiplex",
    kind: "boolean",
    default: true,
    applies: "worker",
    meaning: "several requests at once per connection (FCGI_MPXS_CONNS=1)",
    off: "one request at a time per connection (FCGI_MPXS_CONNS=0)",
  },
  maxParamsBytes: {
    flag: "--max-params-bytes",
    kind: "bytes",
    arg: "N",
    default: 256 * 1024,
    min: 1024,
    applies: "worker",
    meaning: "total bytes of one request's params",
  },
  maxParams: {
    flag: "--max-params",
    kind: "count",
    arg: "N",
    default: 1000,
    min: 1,
    applies: "worker",
    meaning: "params per request",
  },
  maxParamLength: {
    flag: "--max-param-length",
    kind: "bytes",
    arg: "N",
    default: 128 * 1024,
    min: 256,
    applies: "worker",
    meaning: "bytes of one param name or value",
  },
  bodyBuffer: {
    flag: "--body-buffer",
    kind: "bytes",
    arg: "N",
    default: 256 * 1024,
    min: 1,
    applies: "worker",
    meaning: "request body bytes buffered for a slow reader before the connection stops reading",
  },
  abortGrace: {
    flag: "--abort-grace",
    kind: "ms",
    arg: "MS",
    default: 3000,
    min: 0,
    applies: "worker",
    meaning: "how long an aborted handler may run on before END_REQUEST is sent anyway",
  },
  closeTimeout: {
    flag: "--close-timeout",
    kind: "ms",
    arg: "MS",
    default: 10000,
    min: 0,
    applies: "worker",
    meaning: "on SIGTERM/SIGINT/SIGQUIT, how long in-flight requests may finish before they are cut off",
  },
  readTimeout: {
    flag: "--read-timeout",
    kind: "ms",
    arg: "MS",
    default: 30000,
    min: 0,
    applies: "worker",
    meaning:
      "a record, once begun, and a request's params must arrive within MS, else the connection is closed (slowloris); 0 = off",
  },
  idleTimeout: {
    flag: "--idle-timeout",
    kind: "ms",
    arg: "MS",
    default: 0,
    min: 0,
    applies: "worker",
    meaning: "close a connection with nothing in flight after MS of silence; 0 = leave it to the web server",
  },
  requestTimeout: {
    flag: "--request-timeout",
    kind: "ms",
    arg: "MS",
    default: 0,
    min: 0,
    applies: "worker",
    meaning:
      "a handler still running MS after its request arrived is aborted (request.signal, TimeoutError) and answered 503; 0 = off",
  },
  flushTimeout: {
    flag: "--flush-timeout",
    kind: "ms",
    arg: "MS",
    default: 60000,
    min: 0,
    applies: "worker",
    meaning:
      "a connection the worker closes stays open while the web server reads the rest of the output, however slowly; it is dropped when the server takes none of it for MS; 0 = no bound",
  },
  allow: {
    flag: "--allow",
    kind: "list",
    arg: "LIST",
    shown: "$FCGI_WEB_SERVER_ADDRS, else any",
    applies: "worker",
    meaning:
      "TCP clients allowed to connect: comma-separated IPs and CIDRs, e.g. 127.0.0.1,::1,10.0.0.0/8. Refusals are logged. Unix sockets are not filtered",
  },
  lazyResponse: {
    flag: "--lazy-response",
    kind: "boolean",
    default: false,
    cliDefault: true,
    applies: "worker",
    meaning:
      "make the global Response a lazy one: text and byte bodies are written without the runtime's Response and body stream (a third of a small answer's CPU; see README, \"Lazy Response\")",
    off: "keep the runtime's own Response",
  },
  lazyRequest: {
    flag: "--lazy-request",
    kind: "boolean",
    default: false,
    cliDefault: true,
    applies: "worker",
    meaning:
      'give the handler a lazy Request: the runtime\'s is built only when the handler asks for more than url, method or signal (wraps the global fetch and Request; see README, "Lazy Request")',
    off: "build the runtime's Request for every request",
  },
};

/** An integer option's value, its default if unset; a TypeError naming it if out of bounds. */
export function integerOption(options: { readonly [K in OptionName]?: unknown }, name: OptionName): number {
  const { default: fallback, min = 0, max } = OPTIONS[name];
  const value = options[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > (max ?? Infinity)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new TypeError(`fetchcgi: option ${name} must be an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A switch's value, its default if unset. */
export const booleanOption = (options: { readonly [K in OptionName]?: unknown }, name: OptionName): boolean =>
  (options[name] ?? OPTIONS[name].default) as boolean;
