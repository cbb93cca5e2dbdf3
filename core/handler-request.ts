// The Request the handler gets, made from the params: a LazyRequest (option lazyRequest) or the
// runtime's (core/request.ts), and how its signal is aborted, whichever it is.

import type { BodySource } from "./body.ts";
import { LazyRequest } from "./lazy-request.ts";
import { headerList, requestUrl } from "./cgi.ts";
import { abortRequest, newRequest } from "./request.ts";
import type { Params } from "./types.ts";

/**
 * The handler's Request for `env` (`headers`: the HTTP_* params as header pairs, if env.ts has
 * them already), with `body` as its body. Throws for a URL or method the runtime refuses; a header
 * it refuses is dropped and reported to `onSkip`.
 */
export function handlerRequest(
  lazy: boolean,
  env: Params,
  headers: [string, string][] | null,
  method: string,
  body: BodySource | null,
  onSkip: (message: string) => void,
): Request {
  const list = headerList(env, headers);
  // GET is the default: naming it costs the method normalization (on Deno, dearly).
  const init: RequestInit = method === "GET" ? { headers: list } : { method, headers: list };
  const url = requestUrl(env);
  if (lazy) return new LazyRequest(url, init, onSkip, body) as unknown as Request;
  return newRequest(url, body === null ? init : { ...init, body: body.stream, duplex: "half" } as RequestInit, onSkip);
}

/** Aborts the signal of a Request from handlerRequest(), now or as soon as it is made. */
export function abortHandlerRequest(request: Request, reason: unknown): void {
  if (!LazyRequest.abort(request, reason)) abortRequest(request, reason);
}
