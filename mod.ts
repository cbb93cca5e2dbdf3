// fetchcgi: run a Fetch handler (request, env, ctx) => Response as a FastCGI worker.
// serve() picks the adapter of the runtime it runs on; ./runtimes/{node,bun,deno}.ts pin one.

import { makeServe, type ServeOptions } from "./runtimes/common.ts";
import type { Server } from "./core/worker.ts";
import type { App } from "./core/types.ts";

export type RuntimeName = "bun" | "deno" | "node";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
export const runtime: RuntimeName = g.Bun ? "bun" : g.Deno ? "deno" : "node";

// Only this runtime's adapter is loaded: another's imports (node:net) would cost Bun and Deno idle RSS.
const adapter = runtime === "bun" ? () => import("./runtimes/bun.ts")
  : runtime === "deno" ? () => import("./runtimes/deno.ts")
  : () => import("./runtimes/node.ts");

/** Starts a FastCGI worker for `app` on `options.listen` (or an inherited fd 0). */
export const serve: (app: App, options?: ServeOptions) => Server = makeServe(async (spec) => (await adapter()).listen(spec));

export type { ServeOptions, Server };
export type { App, Context, FetchHandler, Logger, LogLevel, Params, RemoteAddr, Role, WorkerOptions } from "./core/types.ts";
