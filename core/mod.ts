// fetchcgi/core: what a custom transport needs to run a Fetch app as a FastCGI worker over its own
// connections, and nothing more. The transport implements Conn, hands its connections out through a
// Listener (over a Channel, say) and gives that to startServer(); the wire format and the worker's
// insides stay private (test/unit/surface.test.ts holds this list).
export { startServer } from "./worker.ts";
export { Channel } from "./channel.ts";
export { formatAddress, parseAddress } from "./address.ts";
export { wrapGlobals } from "./globals.ts";
export type {
  Address,
  App,
  Conn,
  Context,
  FetchHandler,
  Listener,
  Logger,
  LogLevel,
  Params,
  RemoteAddr,
  Role,
  Server,
  Source,
  WorkerOptions,
} from "./types.ts";
