// One request's life on a connection: PARAMS are decoded, the handler is called with a Request,
// its Response goes out as STDOUT records, and END_REQUEST is sent exactly once: when the response
// is complete, or after an abort once the handler settles or its grace period runs out (F29, G9).

import { BodySource } from "./body.ts";
import { buildParams } from "./env.ts";
import { FramedBody } from "./framed.ts";
import { LazyRequest } from "./lazy-request.ts";
import { LazyResponse } from "./lazy-response.ts";
import { Output, type Sink } from "./output.ts";
import { PairDecoder, type PairLimits, PairsLimitError } from "./pairs.ts";
import {
  abortRequest, declaredLength, hasBody, headerList, isForbiddenMethod, methodOf, newRequest, parseLength, requestUrl,
} from "./request.ts";
import { byteString, encodeHead, headText, textResponse } from "./response.ts";
import { encodeText, MAX_CUT } from "./slab.ts";
import type { Context, FetchHandler, Logger, Params, RemoteAddr, Role } from "./types.ts";

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
}

/** What an exchange needs from its connection. */
export interface Host extends Sink {
  readonly settings: Settings;
  readonly remote: RemoteAddr | undefined;
  /** Record content up to this many bytes may be a view into a read buffer the connection reuses: such body pieces must be copied. */
  readonly copyPiecesUpTo: number;
  /** A body was drained or dropped: the connection may read again. */
  resume(): void;
  /** The request is over (END_REQUEST queued, or the connection is gone). */
  ended(ex: Exchange): void;
  /** A response broke after part of it left: the web server must see a failure. */
  fail(ex: Exchange): void;
}

const ROLES: Record<number, Role> = { 1: "responder", 2: "authorizer", 3: "filter" };
/** Microtask turns a body read may take before what is queued is flushed. */
const SETTLE_TURNS = 3;
/** Flush a streamed response once this much is queued. */
const FLUSH_AT = 64 * 1024;

export class Exchange {
  readonly id: number;
  readonly role: Role;
  readonly keepConn: boolean;
  readonly out: Output;
  #host: Host;
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
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** The response body being sent (cancelled by a request timeout). */
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  /** Worker clock at BEGIN_REQUEST (read timeout for the params), and at the handler's start (request timeout). */
  begun: number;
  startedAt = -1;

  constructor(host: Host, id: number, role: number, keepConn: boolean, now = 0) {
    this.#host = host;
    this.id = id;
    this.begun = now;
    this.role = ROLES[role];
    this.keepConn = keepConn;
    this.out = new Output(host, id);
    this.#decoder = new PairDecoder<Exchange>(host.settings.paramLimits, Exchange.#collect, this);
  }

  get ended(): boolean {
    return this.out.ended;
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
    if (!decoder || this.ended) return; // params after their end are ignored
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

  /** FCGI_ABORT_REQUEST or loss of the connection. */
  abort(reason: string): void {
    if (this.ended || this.#aborted) return;
    this.#abortWith(new DOMException(reason, "AbortError"));
    if (!this.#started) {
      this.#decoder = null;
      this.#finish(0);
      return;
    }
    this.#graceTimer = setTimeout(() => {
      this.#host.settings.log("warn", `request ${this.id}: handler still running ${this.#host.settings.abortGrace} ms after abort; ending the request`);
      this.#finish(1);
    }, this.#host.settings.abortGrace);
  }

  /**
   * The handler overran requestTimeout: its signal aborts with a TimeoutError; the web server gets
   * 503 if no head went out yet, else a failed response (the body so far is incomplete).
   */
  timeout(ms: number): void {
    if (this.ended || this.#aborted) return;
    const message = `request timed out after ${ms} ms`;
    const error = new DOMException(message, "TimeoutError");
    this.#abortWith(error);
    this.#discardInput();
    this.#reader?.cancel(error).catch(() => {});
    const partial = this.out.flushed;
    if (!partial) this.out.reset(); // before the log line: reset drops queued STDERR too
    this.#log("warn", message);
    if (partial) return this.#host.fail(this);
    this.out.stdout(encodeHead(new Response(null, { status: 503, headers: { "content-type": "text/plain; charset=utf-8" } })));
    this.out.stdout(encodeText("request timed out\n"));
    this.out.endStdout();
    this.#finish(0);
  }

  /** Marks the request aborted: its body streams and request.signal fail with `error`. */
  #abortWith(error: DOMException): void {
    this.#aborted = true;
    this.#stdinWaiter?.(); // a Filter's response waiting for STDIN ends now, not after the grace
    this.#body?.error(error);
    this.#data?.error(error);
    if (this.#request && !LazyRequest.abort(this.#request, error)) abortRequest(this.#request, error);
  }

  /** Answers without calling the handler (limits, malformed params). */
  #reject(status: number, message: string): void {
    this.#host.settings.log("warn", `request ${this.id}: ${message}`);
    this.out.stderr(message + "\n");
    this.#started = true;
    this.#guard(this.#answer(textResponse(status, message)));
  }

  #start(): void {
    this.#started = true;
    this.startedAt = this.#host.settings.now;
    this.#host.settings.beforeRequest();
    const { env, headers } = buildParams(this.#names, this.#values);
    const method = (this.#method = methodOf(env));
    const host = this.#host;
    // Its resume callback is made only with a body: most requests have none.
    if (this.role !== "authorizer" && hasBody(method, env)) {
      this.#body = new BodySource(host.settings.bodyBuffer, declaredLength(env), () => host.resume(), host.copyPiecesUpTo);
    }
    if (this.role === "filter") {
      this.#data = new BodySource(host.settings.bodyBuffer, parseLength(env.FCGI_DATA_LENGTH), () => host.resume(), host.copyPiecesUpTo);
    }
    if (isForbiddenMethod(method)) {
      this.#guard(this.#answer(new Response(null, { status: 405, headers: { allow: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" } })));
      return;
    }
    let request: Request;
    try {
      const list = headerList(env, headers);
      // GET is the default: naming it costs the method normalization (on Deno, dearly).
      const init: RequestInit = method === "GET" ? { headers: list } : { method, headers: list };
      const url = requestUrl(env);
      const onSkip = (message: string) => this.#log("warn", message);
      const source = this.#body;
      if (this.#host.settings.lazyRequest) request = new LazyRequest(url, init, onSkip, source) as unknown as Request;
      else request = newRequest(url, source === null ? init : { ...init, body: source.stream, duplex: "half" } as RequestInit, onSkip);
    } catch (err) {
      this.#guard(this.#answer(textResponse(400, `bad request: ${(err as Error).message}`)));
      return;
    }
    this.#request = request;
    void this.#run(request, env);
  }

  /** A failure of our own must end the request, never become an unhandled rejection that kills the worker. */
  #guard(work: Promise<void>): void {
    work.catch((err) => this.#internalError(err));
  }

  #internalError(err: unknown): void {
    this.#host.settings.log("error", `request ${this.id}: internal error: ${describe(err)}`);
    if (this.out.flushed) this.#host.fail(this);
    else this.#finish(1);
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
        if (this.ended) host.settings.log("info", `request ${this.id} (ended): ${message}`);
        else this.out.stderr(message.endsWith("\n") ? message : message + "\n");
      },
      remote: host.remote,
      requestId: this.id,
    };
  }

  /** Calls the handler and sends its answer. Never rejects: it catches its own failures, as #guard would, without a promise and a closure per request. */
  async #run(request: Request, env: Params): Promise<void> {
    try {
      let response: Response;
      try {
        response = await this.#host.settings.handler(request, env, this.#context());
        if (!(response instanceof Response)) {
          throw new TypeError(`the handler returned ${response === null ? "null" : typeof response}, not a Response`);
        }
      } catch (err) {
        if (this.#aborted) return this.#finish(1);
        this.#log("error", `handler failed: ${describe(err)}`);
        response = textResponse(500, "Internal Server Error");
      }
      const sending = this.#respond(response);
      if (sending) await sending;
    } catch (err) {
      this.#internalError(err);
    }
  }

  /** #respond for a caller other than #run: a throw becomes a rejection, for #guard. */
  async #answer(response: Response): Promise<void> {
    return this.#respond(response);
  }

  /**
   * Writes the response. Not async: the usual answer (text or bytes) goes out before it returns,
   * without a promise of its own and the ticks of resolving #run's with it; a stream body, or a
   * Filter's response waiting for STDIN, continues in an async method.
   */
  #respond(response: Response): void | Promise<void> {
    const out = this.out;
    if (this.#aborted || this.ended) {
      const parts = LazyResponse.take(response);
      if (parts === null) response.body?.cancel().catch(() => {});
      else if (parts.body instanceof FramedBody) parts.body.release();
      return this.#finish(1);
    }
    // Filter: all of STDIN must be read before output (F46).
    if (this.role === "filter" && !this.#stdinDone) return this.#respondAfterStdin(response);
    const parts = LazyResponse.take(response);
    const authorizer = this.role === "authorizer";
    const head = headText(parts ?? response, authorizer);
    const skipBody = this.#method === "HEAD" || (authorizer && response.status === 200);
    if (parts !== null) {
      // Text or bytes nobody read: written as they are, no stream.
      let content = parts.body;
      if (skipBody) {
        if (content instanceof FramedBody) content.release();
        content = null;
      } else if (typeof content === "string" && content.length > MAX_CUT) {
        content = FramedBody.encode(content) ?? content;
      }
      // A large body in one write with its head, unless an Authorizer's (Apache relays its body
      // only when the head shares its record).
      if (content instanceof FramedBody && !authorizer) {
        out.endFramed(head, content);
        return this.#ended();
      }
      // The whole answer in one write, the usual small response.
      if (!(content instanceof FramedBody) && out.endSmall(head, content)) return this.#ended();
      out.stdout(byteString(head));
      if (typeof content === "string") out.stdout(encodeText(content));
      else if (content instanceof FramedBody) {
        const framed = content;
        const pieces = framed.pieces();
        out.stdout(pieces[0], () => framed.release());
        for (let i = 1; i < pieces.length; i++) out.stdout(pieces[i]);
      } else if (content !== null) out.stdout(content);
      out.endStdout();
      return this.#finish(0);
    }
    out.stdout(byteString(head));
    const body = response.body;
    if (!body || skipBody) {
      body?.cancel().catch(() => {});
      out.endStdout();
      return this.#finish(0);
    }
    return this.#stream(body);
  }

  async #respondAfterStdin(response: Response): Promise<void> {
    await new Promise<void>((r) => (this.#stdinWaiter = r));
    if (this.ended) return void response.body?.cancel().catch(() => {}); // timed out while waiting
    return this.#respond(response);
  }

  /** A body stream, chunk by chunk, flushed when the stream makes us wait. */
  async #stream(body: ReadableStream<Uint8Array>): Promise<void> {
    const out = this.out;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    try {
      reader = this.#reader = body.getReader(); // throws for a body already read (a Response returned twice)
      for (;;) {
        const next = reader.read();
        // A chunk (or error) already queued in the stream settles the read within a microtask
        // turn, one that a pull() makes within a few. If it has not by then, what we have goes
        // out before we wait (SSE, slow streams).
        let settled = false;
        next.then(() => (settled = true), () => (settled = true));
        for (let turn = 0; turn < SETTLE_TURNS && !settled; turn++) await undefined;
        if (!settled) {
          const p = out.flush();
          if (p) await p;
        }
        const r = await next;
        if (this.#aborted || this.ended) {
          reader.cancel().catch(() => {});
          return this.#finish(1);
        }
        if (r.done) break;
        const chunk = r.value;
        if (!(chunk instanceof Uint8Array)) throw new TypeError("the response body stream gave a chunk that is not a Uint8Array");
        out.stdout(chunk);
        if (out.pending >= FLUSH_AT) {
          const p = out.flush();
          if (p) await p;
        }
      }
    } catch (err) {
      reader?.cancel(err).catch(() => {});
      if (this.#aborted || this.ended) return this.#finish(1);
      if (!out.flushed) {
        // Nothing left yet: the web server can still get a clean 500.
        out.reset();
        this.#log("error", `response body failed: ${describe(err)}`);
        return this.#respond(textResponse(500, "Internal Server Error"));
      }
      this.#log("error", `response body failed mid-way: ${describe(err)}`);
      this.#discardInput();
      clearTimeout(this.#graceTimer);
      this.#host.fail(this);
      return;
    }
    out.endStdout();
    return this.#finish(0);
  }

  #discardInput(): void {
    this.#body?.discard();
    this.#data?.discard();
  }

  #finish(appStatus: number): void {
    if (this.ended) return;
    const p = this.out.end(appStatus);
    if (p) p.catch(() => {});
    this.#ended();
  }

  /** END_REQUEST is written (by #finish, or by Output.endSmall): the request is over. */
  #ended(): void {
    clearTimeout(this.#graceTimer);
    this.#discardInput();
    this.#host.ended(this);
  }

  /** The connection is gone: nothing can be written, the handler is told. */
  drop(): void {
    this.abort("the web server closed the connection");
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}
