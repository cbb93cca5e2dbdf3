// The runtime-neutral core, for custom transports: feed any Conn/Listener to a Worker.
export { Worker, startServer, toHandler, type Server } from "./worker.ts";
export { Connection } from "./connection.ts";
export { LazyResponse, type ResponseParts } from "./lazy-response.ts";
export type { FramedBody } from "./framed.ts";
export { LazyRequest } from "./lazy-request.ts";
export { installLazyRequest, installLazyResponse, wrapGlobals } from "./globals.ts";
export { RecordParser, ProtocolError } from "./parser.ts";
export { PairDecoder, decodePairs, PairsLimitError } from "./pairs.ts";
export * from "./records.ts";
export { parseAddress, formatAddress, type Address } from "./address.ts";
export type { App, Conn, Context, FetchHandler, Listener, Logger, LogLevel, Params, RemoteAddr, Source, WorkerOptions } from "./types.ts";
