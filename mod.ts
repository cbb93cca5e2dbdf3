// fetchcgi: run a Fetch handler (request, env, ctx) => Response as a FastCGI worker.
// serve() picks the adapter of the runtime it runs on; ./runtimes/{node,bun,deno}.ts pin one.

import { makeServe } from "./runtimes/common.ts";
import type { App, RuntimeName, ServeOptions, Server } from "./core/types.ts";

const g = globalThis as { Bun?: unknown; Deno?: unknown };

/**
 * The runtime this process runs on, whose adapter serve() uses.
 *
 * @example
 * ```ts
 * import { runtime } from "fetchcgi";
 * console.log(`fetchcgi on ${runtime}`); // "node", "bun" or "deno"
 * ```
 */
export const runtime: RuntimeName = g.Bun ? "bun" : g.Deno ? "deno" : "node";

// Only this runtime's adapter is loaded: another's imports (node:net) would cost Bun and Deno idle RSS.
const adapter = runtime === "bun"
  ? () => import("./runtimes/bun.ts")
  : runtime === "deno"
  ? () => import("./runtimes/deno.ts")
  : () => import("./runtimes/node.ts");

/**
 * Starts a FastCGI worker for `app` on `options.listen` (or an inherited fd 0), with the adapter
 * of the runtime it runs on.
 *
 * @example
 * ```ts
 * import { serve } from "fetchcgi";
 *
 * const server = serve({ fetch: (request: Request) => new Response(`hello from ${new URL(request.url).pathname}`) }, { listen: "127.0.0.1:9000" });
 * await server.ready;
 * ```
 */
export const serve: (app: App, options?: ServeOptions) => Server = makeServe(async (spec) =>
  (await adapter()).listen(spec)
);

export type {
  App,
  Context,
  FetchHandler,
  Logger,
  LogLevel,
  Params,
  RemoteAddr,
  Role,
  RuntimeName,
  ServeOptions,
  Server,
  WorkerOptions,
} from "./core/types.ts";
