// A Response as one request's STDOUT records. A lazy Response's text or bytes go as they are: the
// usual small answer in one write with END_REQUEST (Output.endSmall), a large body laid out in its
// records (framed.ts, Output.endFramed), else queued. A body stream goes chunk by chunk, flushed
// when the stream makes us wait or much is queued. When the request is over, and what a failed
// stream becomes, is the exchange's to decide (core/exchange.ts).

import { FramedBody } from "./framed.ts";
import { LazyResponse } from "./lazy-response.ts";
import type { Output } from "./output.ts";
import { byteString, encodeHead, type HeaderPairs, headText } from "./response.ts";
import { encodeText, MAX_CUT } from "./slab.ts";

/** What writing a response needs from its request (an Exchange). */
export interface Responding {
  readonly out: Output;
  /** Aborted or over: the rest of the response is dropped. */
  readonly stopped: boolean;
  /** The body stream being read, for a request timeout to cancel. */
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
  /** The response is complete (0) or cut off (1): END_REQUEST goes, unless it already went with the response. */
  finish(appStatus: number): void;
  /** The body stream failed (or is not one of bytes). */
  streamFailed(err: unknown): void | Promise<void>;
}

/** Microtask turns a body read may take before what is queued is flushed. */
const SETTLE_TURNS = 3;
/** Flush a streamed response once this much is queued. */
const FLUSH_AT = 64 * 1024;

/**
 * Writes `response` (its head only for `headOnly`: HEAD, an Authorizer's 200). Not async: the usual
 * answer (text or bytes) goes out before it returns, without a promise of its own and the ticks of
 * resolving its caller's with it; a body stream continues in an async function.
 */
export function respond(
  ex: Responding,
  response: Response,
  authorizer: boolean,
  headOnly: boolean,
): void | Promise<void> {
  const out = ex.out;
  const parts = LazyResponse.take(response);
  const head = headText(parts ?? response, authorizer);
  if (parts !== null) {
    // Text or bytes nobody read: written as they are, no stream.
    let content = parts.body;
    if (headOnly) {
      if (content instanceof FramedBody) content.release();
      content = null;
    } else if (typeof content === "string" && content.length > MAX_CUT) {
      content = FramedBody.encode(content) ?? content;
    }
    // A large body in one write with its head, unless an Authorizer's (Apache relays its body
    // only when the head shares its record).
    if (content instanceof FramedBody && !authorizer) {
      out.endFramed(head, content);
      return ex.finish(0);
    }
    // The whole answer in one write, the usual small response.
    if (!(content instanceof FramedBody) && out.endSmall(head, content)) return ex.finish(0);
    out.stdout(byteString(head));
    if (typeof content === "string") out.stdout(encodeText(content));
    else if (content instanceof FramedBody) {
      const framed = content;
      const pieces = framed.pieces();
      out.stdout(pieces[0], () => framed.release());
      for (let i = 1; i < pieces.length; i++) out.stdout(pieces[i]);
    } else if (content !== null) out.stdout(content);
    out.endStdout();
    return ex.finish(0);
  }
  out.stdout(byteString(head));
  const body = response.body;
  if (!body || headOnly) {
    body?.cancel().catch(() => {});
    out.endStdout();
    return ex.finish(0);
  }
  return stream(ex, body);
}

/** A body stream, chunk by chunk, flushed when the stream makes us wait. */
async function stream(ex: Responding, body: ReadableStream<Uint8Array>): Promise<void> {
  const out = ex.out;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  try {
    reader = ex.reader = body.getReader(); // throws for a body already read (a Response returned twice)
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
      if (ex.stopped) {
        reader.cancel().catch(() => {});
        return ex.finish(1);
      }
      if (r.done) break;
      const chunk = r.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError("the response body stream gave a chunk that is not a Uint8Array");
      }
      out.stdout(chunk);
      if (out.pending >= FLUSH_AT) {
        const p = out.flush();
        if (p) await p;
      }
    }
  } catch (err) {
    reader?.cancel(err).catch(() => {});
    return ex.streamFailed(err);
  }
  out.endStdout();
  return ex.finish(0);
}

const TEXT_HEADERS: HeaderPairs = [["content-type", "text/plain; charset=utf-8"]];

/** A plain-text answer of ours, queued at once with its empty STDOUT (a timeout's: the handler's own may never come). */
export function respondText(out: Output, status: number, text: string): void {
  out.stdout(encodeHead({ status, statusText: "", headers: TEXT_HEADERS }));
  out.stdout(encodeText(text));
  out.endStdout();
}

/** Lets go of a response that will not be written: its stream cancelled, or its framed body back to the pool. */
export function dropResponse(response: Response): void {
  const parts = LazyResponse.take(response);
  if (parts === null) response.body?.cancel().catch(() => {});
  else if (parts.body instanceof FramedBody) parts.body.release();
}
