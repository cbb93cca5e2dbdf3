#!/usr/bin/env node
// The `fetchcgi` command: runs APP's default export as a FastCGI worker on the runtime that starts it.
//   node dist/cli.js APP --listen ADDR · bun cli.ts APP … · deno run -A cli.ts APP …

import { runtime, serve, type App, type ServeOptions } from "./mod.ts";
import { wrapGlobals } from "./core/lazy-request.ts";
import { host } from "./runtimes/host.ts";
import { DEFAULT_SOCKET_MODE } from "./runtimes/common.ts";
import { parseMode } from "./core/address.ts";

const VERSION = "0.1.0";

const HELP = `fetchcgi ${VERSION}: run a Fetch handler module as a FastCGI worker (Node, Bun, Deno)

Usage: fetchcgi APP [options]

APP is a module path whose default export is the app: { fetch(request, env, ctx) } or a
function (request, env, ctx) => Response.

Options:
  --listen ADDR            where to listen (default: fd 0 when it is a socket, as spawned by
                           mod_fcgid, lighttpd bin-path or spawn-fcgi). ADDR is one of:
                             tcp:HOST:PORT, HOST:PORT, [::1]:PORT   TCP
                             :PORT or PORT                          TCP on 127.0.0.1
                             unix:PATH or /absolute/path            Unix socket (a stale file
                                                                    from a dead worker is replaced)
                             fd:N                                   an inherited listening socket
  --socket-mode MODE       Unix socket permissions (default 660: the owner and its group,
                           e.g. the web server's, may connect; applied before it accepts)
  --max-conns N            concurrent connections, advertised as FCGI_MAX_CONNS (default 1024)
  --max-requests N         concurrent requests, advertised as FCGI_MAX_REQS; more are answered
                           OVERLOADED (default 1024)
  --no-multiplex           one request at a time per connection (FCGI_MPXS_CONNS=0)
  --max-params-bytes N     total bytes of one request's params (default 262144)
  --max-params N           params per request (default 1000)
  --max-param-length N     bytes of one param name or value (default 131072)
  --body-buffer N          request body bytes buffered for a slow reader before the
                           connection stops reading (default 262144)
  --abort-grace MS         how long an aborted handler may run on before END_REQUEST is
                           sent anyway (default 3000)
  --close-timeout MS       on SIGTERM/SIGINT/SIGQUIT, how long in-flight requests may
                           finish before they are cut off (default 10000)
  --read-timeout MS        a record, once begun, and a request's params must arrive within
                           MS, else the connection is closed (slowloris); 0 = off (default 30000)
  --idle-timeout MS        close a connection with nothing in flight after MS of silence;
                           0 = leave it to the web server (default 0)
  --request-timeout MS     a handler still running MS after its request arrived is aborted
                           (request.signal, TimeoutError) and answered 503; 0 = off (default 0)
  --flush-timeout MS       a connection the worker closes stays open while the web server
                           reads the rest of the output, however slowly; it is dropped when
                           the server takes none of it for MS; 0 = no bound (default 60000)
  --allow LIST             TCP clients allowed to connect: comma-separated IPs and CIDRs,
                           e.g. 127.0.0.1,::1,10.0.0.0/8 (default: $FCGI_WEB_SERVER_ADDRS
                           if set, else any). Refusals are logged. Unix sockets are not filtered.
  --lazy-response          make the global Response a lazy one: text and byte bodies are
                           written without the runtime's Response and body stream (the
                           default: a third of a small answer's CPU; see README, "Lazy Response")
  --no-lazy-response       keep the runtime's own Response
  --lazy-request           give the handler a lazy Request: the runtime's is built only when
                           the handler asks for more than url, method or signal (the default;
                           wraps the global fetch and Request; see README, "Lazy Request")
  --no-lazy-request        build the runtime's Request for every request
  -h, --help               this text
  -v, --version            the version

Signals: SIGTERM, SIGINT and SIGQUIT close gracefully (stop accepting, finish requests in
flight, exit 0); a second signal exits at once. Exit status 1: it could not serve (APP, the
address); 2: a usage error. Run it directly, not under npx or npm exec: those do not pass
SIGTERM on, and the worker would be left running.`;

const NUMERIC: Record<string, keyof ServeOptions> = {
  "--max-conns": "maxConns",
  "--max-requests": "maxRequests",
  "--max-params-bytes": "maxParamsBytes",
  "--max-params": "maxParams",
  "--max-param-length": "maxParamLength",
  "--body-buffer": "bodyBuffer",
  "--abort-grace": "abortGrace",
  "--close-timeout": "closeTimeout",
  "--read-timeout": "readTimeout",
  "--idle-timeout": "idleTimeout",
  "--request-timeout": "requestTimeout",
  "--flush-timeout": "flushTimeout",
};

/** A usage error. */
function fail(message: string): never {
  console.error(`${prefixed(message)}\nRun fetchcgi --help for usage.`);
  host.exit(2);
}

/** Any other reason it cannot serve. */
function die(message: string): never {
  console.error(prefixed(message));
  host.exit(1);
}

/** The library's own errors say "fetchcgi: " already. */
const prefixed = (message: string): string => (message.startsWith("fetchcgi: ") ? message : `fetchcgi: ${message}`);

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function parseArgs(args: string[]): { app?: string; options: ServeOptions; help?: boolean; version?: boolean } {
  const options: Record<string, unknown> = {};
  let app: string | undefined;
  for (let i = 0; i < args.length; i++) {
    let arg = args[i];
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = (): string => {
      if (value !== undefined) return value;
      if (i + 1 >= args.length) fail(`${arg} needs a value`);
      return args[++i];
    };
    if (arg === "-h" || arg === "--help") return { options: {}, help: true };
    if (arg === "-v" || arg === "--version") return { options: {}, version: true };
    if (arg === "--listen") options.listen = take();
    else if (arg === "--socket-mode") options.socketMode = take();
    else if (arg === "--no-multiplex") options.multiplex = false;
    else if (arg === "--lazy-response") options.lazyResponse = true;
    else if (arg === "--no-lazy-response") options.lazyResponse = false;
    else if (arg === "--lazy-request") options.lazyRequest = true;
    else if (arg === "--no-lazy-request") options.lazyRequest = false;
    else if (arg === "--allow") options.allow = take().split(",");
    else if (arg in NUMERIC) {
      const text = take();
      if (!/^\d+$/.test(text)) fail(`${arg} must be a whole number, got ${JSON.stringify(text)}`);
      options[NUMERIC[arg]] = Number(text);
    } else if (arg.startsWith("-")) fail(`unknown option ${arg}`);
    else if (app === undefined) app = arg;
    else fail(`unexpected argument ${JSON.stringify(arg)} (only one APP)`);
  }
  options.allow ??= webServerAddrs();
  // The process is ours: the lazy Response and the lazy Request are the default (as
  // @hono/node-server's lazy Response is).
  options.lazyResponse ??= true;
  options.lazyRequest ??= true;
  return { app, options: options as ServeOptions };
}

/** The spec's FCGI_WEB_SERVER_ADDRS (F6), when set; unreadable env (Deno without --allow-env) counts as unset. */
function webServerAddrs(): string[] | undefined {
  try {
    const list = host.env("FCGI_WEB_SERVER_ADDRS");
    return list?.trim() ? list.split(",") : undefined;
  } catch {
    return undefined;
  }
}

/** `spec` as a file: URL, resolved against the working directory. */
async function appUrl(spec: string): Promise<string> {
  const cwd = host.cwd();
  if (!cwd.startsWith("/")) { // Windows paths: let node:path and node:url (which cost Bun and Deno idle RSS to load) handle them
    const [path, url] = await Promise.all([import("node:path"), import("node:url")]);
    return url.pathToFileURL(path.resolve(spec)).href;
  }
  const absolute = spec.startsWith("/") ? spec : `${cwd}/${spec}`;
  return new URL(`file://${absolute.split("/").map(encodeURIComponent).join("/")}`).href; // URL resolves "." and ".."
}

/**
 * APP's default export (or its namespace, for a named `fetch` export), in a box: returned bare from
 * an async function, a thenable would be awaited. itty-router's AutoRouter is one (a Proxy that
 * answers every property, `then` included) and never settles.
 */
async function loadApp(spec: string): Promise<{ app: App }> {
  const url = await appUrl(spec);
  let mod: { default?: unknown };
  try {
    mod = await import(url);
  } catch (err) {
    die(`cannot load ${spec}: ${messageOf(err)}`);
  }
  const app = "default" in mod ? mod.default : mod;
  if (typeof app === "function" || typeof (app as { fetch?: unknown } | null)?.fetch === "function") return { app: app as App };
  const what = app === mod ? "has no default export"
    : app === null || typeof app !== "object" ? `exports default ${app === null ? "null" : `a ${typeof app}`}`
    : "exports default an object without a fetch() method";
  die(`${spec} ${what}: export default a { fetch(request, env, ctx) } object or a function`);
}

async function main(): Promise<void> {
  const parsed = parseArgs(host.args);
  if (parsed.help) return void console.log(HELP);
  if (parsed.version) return void console.log(VERSION);
  if (!parsed.app) fail("missing APP (the module to serve)");
  // Before the app loads, so that the fetch and Request it and its libraries take are the ones a
  // lazy Request can be given to (Node's Request only with the first request: it loads undici).
  if (parsed.options.lazyRequest) wrapGlobals(runtime !== "node");
  // Ending by itself, the process would exit 0 and say nothing (an APP whose top-level await never
  // settles): the CLI ends only when told to, or with a reason.
  let doing = `loading ${parsed.app}`;
  host.onIdle(() => die(`nothing was left to run while ${doing} (a promise that never settles?)`));
  const { app } = await loadApp(parsed.app);
  doing = "starting to listen";
  let server;
  try {
    server = serve(app, parsed.options);
  } catch (err) {
    fail(messageOf(err)); // the options or the address
  }
  try {
    await server.ready;
  } catch (err) {
    die(messageOf(err));
  }
  const mode = server.address.startsWith("unix:") ? `, mode ${parseMode(parsed.options.socketMode ?? DEFAULT_SOCKET_MODE).toString(8).padStart(3, "0")}` : "";
  console.error(`fetchcgi: serving ${parsed.app} on ${server.address} (${runtime}${mode})`);
  doing = `serving on ${server.address}`;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) host.exit(1);
    stopping = true;
    doing = "closing";
    console.error(`fetchcgi: ${signal}: closing gracefully`);
    server.close().then(() => host.exit(0));
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) host.onSignal(signal, () => stop(signal));
  await server.finished.catch((err) => die(messageOf(err)));
  if (!stopping) die(`stopped accepting connections on ${server.address} without being told to`);
}

main().catch((err) => {
  console.error(`fetchcgi: ${err instanceof Error ? err.stack : String(err)}`);
  host.exit(1);
});
