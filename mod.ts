// fetchcgi: run a Fetch handler (request, env, ctx) => Response as a FastCGI worker.
// serve() picks the adapter of the runtime it runs on; ./runtimes/{node,bun,deno}.ts pin one.

import { serve as serveBun } from "./runtimes/bun.ts";
import { serve as serveDeno } from "./runtimes/deno.ts";
import { serve as serveNode } from "./runtimes/node.ts";
import type { ServeOptions } from "./runtimes/common.ts";
import type { Server } from "./core/worker.ts";
import type { App } from "./core/types.ts";

export type RuntimeName = "bun" | "deno" | "node";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
export const runtime: RuntimeName = g.Bun ? "bun" : g.Deno ? "deno" : "node";

/** Starts a FastCGI worker for `app` on `options.listen` (or an inherited fd 0). */
export function serve(app: App, options?: ServeOptions): Server {
  return (runtime === "bun" ? serveBun : runtime === "deno" ? serveDeno : serveNode)(app, options);
}

export type { ServeOptions, Server };
export type { App, Context, FetchHandler, Logger, LogLevel, Params, RemoteAddr, Role, WorkerOptions } from "./core/types.ts";
