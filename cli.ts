#!/usr/bin/env node
// The `fetchcgi` command: runs APP's default export as a FastCGI worker on the runtime that starts it.
//   node dist/cli.js APP --listen ADDR · bun cli.ts APP … · deno run -A cli.ts APP …

import { type App, runtime, serve, type ServeOptions } from "./mod.ts";
import { beforeAppLoads } from "./core/globals.ts";
import { host } from "./runtimes/host.ts";
import { DEFAULT_SOCKET_MODE } from "./runtimes/common.ts";
import { parseMode } from "./core/address.ts";
import { type OptionName, OPTIONS, type OptionSpec } from "./core/options.ts";

const VERSION = "0.1.0";

const HELP_INDENT = 27;
const HELP_WIDTH = 94;

/** The option list, from the table: each flag, its placeholder, its meaning and default, wrapped. */
function optionHelp(): string {
  const lines: string[] = [];
  const entry = (flag: string, text: string) => {
    let line = `  ${flag}`.padEnd(HELP_INDENT - 1);
    for (const word of text.split(" ")) {
      if (line.length + 1 + word.length > HELP_WIDTH && line.trim() !== "") {
        lines.push(line);
        line = " ".repeat(HELP_INDENT - 1);
      }
      line += ` ${word}`;
    }
    lines.push(line);
  };
  for (const spec of Object.values(OPTIONS)) {
    if (spec.kind === "boolean") {
      const on = spec.cliDefault ?? spec.default;
      entry(spec.flag, on ? `the default: ${spec.meaning}` : spec.meaning);
      entry(`--no-${spec.flag.slice(2)}`, on ? spec.off! : `the default: ${spec.off}`);
    } else {
      const shown = spec.shown ?? spec.default;
      entry(`${spec.flag} ${spec.arg}`, shown === undefined ? spec.meaning : `${spec.meaning} (default: ${shown})`);
    }
  }
  entry("-h, --help", "this text");
  entry("-v, --version", "the version");
  return lines.join("\n");
}
const help = (): string =>
  `fetchcgi ${VERSION}: run a Fetch handler module as a FastCGI worker (Node, Bun, Deno)

Usage: fetchcgi APP [options]

APP is a module path whose default export is the app: { fetch(request, env, ctx) } or a
function (request, env, ctx) => Response.

Options:
${optionHelp()}

ADDR is one of:
  tcp:HOST:PORT, HOST:PORT, [::1]:PORT   TCP
  :PORT or PORT                          TCP on 127.0.0.1
  unix:PATH or /absolute/path            Unix socket (a stale file from a dead worker
                                         is replaced)
  fd:N                                   an inherited listening socket
With no --listen, fd 0 is used when it is a socket, as spawned by mod_fcgid, lighttpd
bin-path or spawn-fcgi.

Signals: SIGTERM, SIGINT and SIGQUIT close gracefully (stop accepting, finish requests in
flight, exit 0); a second signal exits at once. Exit status 1: it could not serve (APP, the
address); 2: a usage error. Run it directly, not under npx or npm exec: those do not pass
SIGTERM on, and the worker would be left running.`;

/** Each flag (`--no-X` too) to its option and, for a switch, the value it sets. */
const FLAGS = new Map<string, { name: OptionName; spec: OptionSpec; set?: boolean }>();
for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, OptionSpec][]) {
  if (spec.kind !== "boolean") FLAGS.set(spec.flag, { name, spec });
  else {
    FLAGS.set(spec.flag, { name, spec, set: true });
    FLAGS.set(`--no-${spec.flag.slice(2)}`, { name, spec, set: false });
  }
}

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
    const flag = FLAGS.get(arg);
    if (flag?.set !== undefined) options[flag.name] = flag.set;
    else if (flag?.spec.kind === "string") options[flag.name] = take();
    else if (flag?.spec.kind === "list") options[flag.name] = take().split(",");
    else if (flag) {
      const text = take();
      if (!/^\d+$/.test(text)) fail(`${arg} must be a whole number, got ${JSON.stringify(text)}`);
      options[flag.name] = Number(text);
    } else if (arg.startsWith("-")) fail(`unknown option ${arg}`);
    else if (app === undefined) app = arg;
    else fail(`unexpected argument ${JSON.stringify(arg)} (only one APP)`);
  }
  options.allow ??= webServerAddrs();
  // The process is ours: the lazy Response and the lazy Request are the default (as
  // @hono/node-server's lazy Response is).
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if (spec.cliDefault !== undefined) options[name] ??= spec.cliDefault;
  }
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
  if (typeof app === "function" || typeof (app as { fetch?: unknown } | null)?.fetch === "function") {
    return { app: app as App };
  }
  const what = app === mod
    ? "has no default export"
    : app === null || typeof app !== "object"
    ? `exports default ${app === null ? "null" : `a ${typeof app}`}`
    : "exports default an object without a fetch() method";
  die(`${spec} ${what}: export default a { fetch(request, env, ctx) } object or a function`);
}

async function main(): Promise<void> {
  const parsed = parseArgs(host.args);
  if (parsed.help) return void console.log(help());
  if (parsed.version) return void console.log(VERSION);
  if (!parsed.app) fail("missing APP (the module to serve)");
  // Before the app loads: the fetch and Request its module scope keeps must be the wrappers.
  beforeAppLoads(parsed.options, runtime);
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
  const mode = server.address.startsWith("unix:")
    ? `, mode ${parseMode(parsed.options.socketMode ?? DEFAULT_SOCKET_MODE).toString(8).padStart(3, "0")}`
    : "";
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
