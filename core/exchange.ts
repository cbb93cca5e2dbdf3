// One request's life on a connection: PARAMS are decoded, the handler is called with a Request,
// its Response goes out (core/respond.ts), and the request ends once: with END_REQUEST when the
// response is complete or after an abort (F29, G9), or as a failure the web server sees (F39).

import { BodySource } from "./body.ts";
import { declaredLength, hasBody, isForbiddenMethod, methodOf, parseLength } from "./cgi.ts";
import { unref } from "./closing.ts";
import { buildParams } from "./env.ts";
import { abortHandlerRequest, handlerRequest } from "./handler-request.ts";
import { Output } from "./output.ts";
import { PairDecoder, PairsLimitError } from "./pairs.ts";
import { dropResponse, respond, type Responding, respondText } from "./respond.ts";
import { textResponse } from "./response.ts";
import type { ExchangeHost } from "./exchange-host.ts";
import type { Context, Params, Role } from "./types.ts";

/** The methods a 405 offers. */
const ALLOWED = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

const ROLES: Record<number, Role> = { 1: "responder", 2: "authorizer", 3: "filter" };

export class Exchange implements Responding {
  readonly id: number;
  readonly role: Role;
  readonly keepConn: boolean;
  readonly out: Output;
  #host: ExchangeHost;
  // The params in arrival order, made into env when they end.
  #names: string[] = [];
  #values: string[] = [];
  #decoder: PairDecoder<Exchange> | null;
  #method = "GET";
  #body: BodySource | null = null;
  #data: BodySource | null = null;
  #stdinDone = false;
  #stdinWaiter: (() => void) | null = null;
  #request: Request | null = null;
  #aborted = false;
  #started = false;
  #ended = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** The response body being sent (cancelled by a request timeout); set by core/respond.ts. */
  reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  /** Worker clock at BEGIN_REQUEST (read timeout for the params), and at the handler's start (request timeout). */
  begun: number;
  startedAt = -1;

  constructor(host: ExchangeHost, id: number, role: number, keepConn: boolean, now = 0) {
    this.#host = host;
    this.id = id;
    this.begun = now;
    this.role = ROLES[role];
    this.keepConn = keepConn;
    this.out = new Output(host, id);
    this.#decoder = new PairDecoder<Exchange>(host.settings.paramLimits, Exchange.#collect, this);
    host.settings.active++;
  }

  /** Aborted or over: a response still coming is dropped. */
  get stopped(): boolean {
    return this.#aborted || this.#ended;
  }

  /** The params are complete: the handler runs (or an answer of ours goes out). */
  get started(): boolean {
    return this.#started;
  }

  /** The connection stopped reading for a while (backpressure): the params clock restarts. */
  waitedFrom(now: number): void {
    if (!this.#started) this.begun = now;
  }

  /** The decoder's pair callback: one function for every exchange, not a closure each. */
  static #collect(name: string, value: string, ex: Exchange): void {
    ex.#names.push(name);
    ex.#values.push(value);
  }

  /** A PARAMS piece, `bytes[start, end)`; an empty one ends the params and starts the handler. */
  params(bytes: Uint8Array, start: number, end: number): void {
    const decoder = this.#decoder;
    if (!decoder || this.#ended) return; // params after their end are ignored
    if (end > start) {
      try {
        decoder.push(bytes, start, end);
      } catch (err) {
        if (!(err instanceof PairsLimitError)) throw err;
        this.#decoder = null;
        this.#reject(431, `request refused: ${err.message}`);
      }
      return;
    }
    this.#decoder = null;
    if (!decoder.complete) return this.#reject(400, "request refused: params end inside a name-value pair");
    this.#start();
  }

  /** A STDIN piece (EMPTY = end). False when the handler's body is full: stop reading. */
  stdin(piece: Uint8Array): boolean {
    if (piece.length === 0) {
      this.#stdinDone = true;
      this.#body?.end();
      this.#stdinWaiter?.();
      return true;
    }
    const body = this.#body;
    if (!body || body.cancelled) return true;
    return body.push(piece);
  }

  /** A DATA piece (Filter role; EMPTY = end). */
  data(piece: Uint8Array): boolean {
    const data = this.#data;
    if (!data || data.cancelled) return true;
    if (piece.length === 0) {
      data.end();
      return true;
    }
    return data.push(piece);
  }

  /** FCGI_ABORT_REQUEST or loss of the connection: the handler is told (F29, F30). */
  abort(reason: string): void {
    if (this.stopped) return;
    this.#abortWith(new DOMException(reason, "AbortError"));
    if (!this.#started) {
      this.#decoder = null;
      return this.finish(0);
    }
    this.#graceTimer = unref(setTimeout(() => { // unref: a process whose server closed need not wait
      const { log, abortGrace } = this.#host.settings;
      log("warn", `request ${this.id}: handler still running ${abortGrace} ms after abort; ending the request`);
      this.finish(1);
    }, this.#host.settings.abortGrace));
  }

  /**
   * The handler overran requestTimeout: its signal aborts with a TimeoutError; the web server gets
   * 503 if no head went out yet, else a failed response (the body so far is incomplete).
   */
  timeout(ms: number): void {
    if (this.stopped) return;
    const message = `request timed out after ${ms} ms`;
    const error = new DOMException(message, "TimeoutError");
    this.#abortWith(error);
    this.reader?.cancel(error).catch(() => {});
    const partial = this.out.flushed;
    if (!partial) this.out.reset(); // before the log line: reset drops queued STDERR too
    this.#log("warn", message);
    if (partial) return this.#fail();
    respondText(this.out, 503, "request timed out\n");
    this.finish(0);
  }

  /** Marks the request aborted: its body streams and request.signal fail with `error`. */
  #abortWith(error: DOMException): void {
    this.#aborted = true;
    this.#stdinWaiter?.(); // a Filter's response waiting for STDIN ends now, not after the grace
    this.#body?.error(error);
    this.#data?.error(error);
    if (this.#request) abortHandlerRequest(this.#request, error);
  }

  /** Answers without calling the handler (limits, malformed params). */
  #reject(status: number, message: string): void {
    this.#host.settings.log("warn", `request ${this.id}: ${message}`);
    this.out.stderr(message + "\n");
    this.#started = true;
    void this.#answer(textResponse(status, message));
  }

  /** An incoming stream (STDIN, DATA) of `expected` bytes (-1: unknown). */
  #stream(expected: number): BodySource {
    const host = this.#host;
    return new BodySource(host.settings.bodyBuffer, expected, () => host.resume(), host.copyPiecesUpTo);
  }

  #start(): void {
    this.#started = true;
    const host = this.#host;
    this.startedAt = host.settings.now;
    host.settings.beforeRequest();
    const { env, headers } = buildParams(this.#names, this.#values);
    const method = (this.#method = methodOf(env));
    // Its resume callback is made only with a body: most requests have none.
    if (this.role !== "authorizer" && hasBody(method, env)) this.#body = this.#stream(declaredLength(env));
    if (this.role === "filter") this.#data = this.#stream(parseLength(env.FCGI_DATA_LENGTH));
    if (isForbiddenMethod(method)) {
      return void this.#answer(new Response(null, { status: 405, headers: { allow: ALLOWED } }));
    }
    let request: Request;
    try {
      const onSkip = (message: string) => this.#log("warn", message);
      request = handlerRequest(host.settings.lazyRequest, env, headers, method, this.#body, onSkip);
    } catch (err) {
      return void this.#answer(textResponse(400, `bad request: ${(err as Error).message}`));
    }
    this.#request = request;
    void this.#run(request, env);
  }

  #internalError(err: unknown): void {
    this.#host.settings.log("error", `request ${this.id}: internal error: ${describe(err)}`);
    if (this.out.flushed) this.#fail();
    else this.finish(1);
  }

  #log(level: "error" | "warn" | "info", message: string): void {
    this.#host.settings.log(level, `request ${this.id}: ${message}`);
    this.out.stderr(message + "\n");
  }

  #context(): Context {
    const host = this.#host;
    return {
      waitUntil: (promise) => host.settings.track(promise),
      passThroughOnException() {},
      role: this.role,
      data: this.#data?.stream ?? null,
      log: (message) => {
        if (this.#ended) host.settings.log("info", `request ${this.id} (ended): ${message}`);
        else this.out.stderr(message.endsWith("\n") ? message : message + "\n");
      },
      remote: host.remote,
      requestId: this.id,
    };
  }

  /** Calls the handler and sends its answer. Never rejects: a failure of our own must end the request, never become an unhandled rejection that kills the worker. */
  async #run(request: Request, env: Params): Promise<void> {
    try {
      let response: Response;
      try {
        response = await this.#host.settings.handler(request, env, this.#context());
        if (!(response instanceof Response)) {
          throw new TypeError(`the handler returned ${response === null ? "null" : typeof response}, not a Response`);
        }
      } catch (err) {
        if (this.#aborted) return this.finish(1);
        this.#log("error", `handler failed: ${describe(err)}`);
        response = textResponse(500, "Internal Server Error");
      }
      const sending = this.#respond(response);
      if (sending) await sending;
    } catch (err) {
      this.#internalError(err);
    }
  }

  /** Sends an answer of ours (refusals, limits) without the handler. Never rejects, as #run. */
  async #answer(response: Response): Promise<void> {
    try {
      const sending = this.#respond(response);
      if (sending) await sending;
    } catch (err) {
      this.#internalError(err);
    }
  }

  /** Sends the response (core/respond.ts), once a Filter has all of its STDIN; drops it if the request is over. */
  #respond(response: Response): void | Promise<void> {
    if (this.stopped) {
      dropResponse(response);
      return this.finish(1);
    }
    // Filter: all of STDIN must be read before output (F46).
    if (this.role === "filter" && !this.#stdinDone) return this.#respondAfterStdin(response);
    const authorizer = this.role === "authorizer";
    return respond(this, response, authorizer, this.#method === "HEAD" || (authorizer && response.status === 200));
  }

  async #respondAfterStdin(response: Response): Promise<void> {
    await new Promise<void>((r) => (this.#stdinWaiter = r));
    if (this.#ended) return void response.body?.cancel().catch(() => {}); // timed out while waiting
    return this.#respond(response);
  }

  /** The response's body stream failed (core/respond.ts): a 500 while none of it has left, else a failed response. */
  streamFailed(err: unknown): void | Promise<void> {
    if (this.stopped) return this.finish(1);
    if (!this.out.flushed) {
      this.out.reset();
      this.#log("error", `response body failed: ${describe(err)}`);
      return this.#respond(textResponse(500, "Internal Server Error"));
    }
    this.#log("error", `response body failed mid-way: ${describe(err)}`);
    this.#fail();
  }

  /** END_REQUEST goes now, unless it went with the response (Output.endSmall, endFramed): the request is over. */
  finish(appStatus: number): void {
    if (this.#ended) return;
    const p = this.out.end(appStatus);
    if (p) p.catch(() => {});
    this.#end(false);
  }

  /**
   * A response broke after part of it left (its stream failed, it timed out, an error of ours). Any
   * END_REQUEST looks complete to every front: alone on its connection, it ends with the close,
   * which HAProxy, nginx keep-conn, Apache mod_proxy_fcgi and lighttpd streaming pass on as a cut
   * response; sharing it, with appStatus 1. Its STDERR line is padded: HAProxy 2.6 died on it.
   */
  #fail(): void {
    if (this.#ended) return;
    if (this.#host.shared) return this.finish(1);
    this.out.abandon(); // what is queued (the log line) goes; the id is closed without END_REQUEST
    this.#end(true);
  }

  #end(broken: boolean): void {
    this.#ended = true;
    clearTimeout(this.#graceTimer);
    this.#body?.discard();
    this.#data?.discard();
    this.#host.settings.active--;
    this.#host.ended(this, broken);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}
