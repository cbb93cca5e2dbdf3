// What an exchange needs from the worker (Settings) and from its connection (ExchangeHost): the
// seam between a request's life (core/exchange.ts) and the connection that carries it.

import type { Exchange } from "./exchange.ts";
import type { Sink } from "./output.ts";
import type { PairLimits } from "./pairs.ts";
import type { FetchHandler, Logger, RemoteAddr } from "./types.ts";

export interface Settings {
  readonly handler: FetchHandler;
  readonly log: Logger;
  /** maxParamsBytes, maxParams and maxParamLength, as one object every decoder shares. */
  readonly paramLimits: PairLimits;
  readonly bodyBuffer: number;
  readonly abortGrace: number;
  /** The handler gets a LazyRequest (core/lazy-request.ts). */
  readonly lazyRequest: boolean;
  /** Called as each request starts: the worker installs its lazy globals with the first. */
  beforeRequest(): void;
  /** The worker's coarse clock (ms). */
  readonly now: number;
  /** Keeps graceful close waiting for ctx.waitUntil() promises. */
  track(promise: Promise<unknown>): void;
  /** Requests in flight in the whole worker: each Exchange counts itself, from its BEGIN_REQUEST to its end. */
  active: number;
}

/** What an exchange needs from its connection. */
export interface ExchangeHost extends Sink {
  readonly settings: Settings;
  readonly remote: RemoteAddr | undefined;
  /** Record content up to this many bytes may be a view into a read buffer the connection reuses: such body pieces must be copied. */
  readonly copyPiecesUpTo: number;
  /** Other requests are active on the connection too. */
  readonly shared: boolean;
  /** A body was drained or dropped: the connection may read again. */
  resume(): void;
  /** The request is over. `broken`: without END_REQUEST, and the connection must close (Exchange.#fail). */
  ended(ex: Exchange, broken: boolean): void;
}
