// The handler's Request, built by the runtime from the URL, method and header list the CGI mapping
// (cgi.ts) makes of the params: a header the Fetch API refuses is dropped, and the signal is made
// only when read.

/** An HTTP token (RFC 9110, 5.6.2): what methods and header names are made of. */
export const TOKEN: RegExp = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Builds Headers; an invalid name or value is skipped and reported, never fatal. */
export function buildHeaders(list: [string, string][], onSkip: (message: string) => void): Headers {
  try {
    return new Headers(list);
  } catch {
    const headers = new Headers();
    for (const [name, value] of list) {
      try {
        headers.append(name, value);
      } catch {
        try {
          headers.append(name, asByteString(value)); // a UTF-8 value that is not a ByteString
        } catch {
          onSkip(`skipped invalid request header ${JSON.stringify(name.slice(0, 64))}`);
        }
      }
    }
    return headers;
  }
}

const encoder = new TextEncoder();

/** UTF-8 text as one char per byte, the way HTTP carries it. */
function asByteString(value: string): string {
  let s = "";
  for (const b of encoder.encode(value)) s += String.fromCharCode(b);
  return s;
}

/**
 * The handler's Request: a real one (fetch(request), new Request(request), clone() accept it)
 * whose `signal` is made only when first read. A signal passed to the Request constructor costs
 * more than the rest of the Request on Node (undici follows it through a FinalizationRegistry).
 * The signal aborts on FCGI_ABORT_REQUEST, a lost connection or the request timeout; a Request
 * derived from this one (clone(), new Request(request), fetch(request)) has a signal of its own
 * that does not.
 *
 * The class is made on first use, not when this module loads: on Node the first touch of
 * `Request` loads undici, which a worker that has served nothing does not need.
 */
interface RequestClass {
  new (url: string, init: RequestInit): Request;
  abort(request: Request, reason: unknown): void;
}

function makeRequestClass(): RequestClass {
  return class FcgiRequest extends Request {
    #signal: LazySignal | null = null;

    override get signal(): AbortSignal {
      return (this.#signal ??= new LazySignal()).signal;
    }

    static abort(request: FcgiRequest, reason: unknown): void {
      (request.#signal ??= new LazySignal()).abort(reason);
    }
  };
}

let requestClass: RequestClass | undefined;

/** The handler's Request (see above); a header the Fetch API refuses is dropped and reported. */
export function newRequest(url: string, init: RequestInit, onSkip: (message: string) => void): Request {
  return buildRequest(requestClass ??= makeRequestClass(), url, init, onSkip);
}

/**
 * `new Class(url, init)`. A header the Fetch API refuses (the constructor checks headers before
 * the body) is dropped, reported to `onSkip`, and the Request built again without it.
 */
export function buildRequest(
  Class: new (url: string, init: RequestInit) => Request,
  url: string,
  init: RequestInit,
  onSkip: (message: string) => void,
): Request {
  try {
    return new Class(url, init);
  } catch {
    init.headers = buildHeaders(init.headers as [string, string][], onSkip);
    return new Class(url, init);
  }
}

/** A request's AbortSignal, made only when first read; an abort that comes first is kept for it. */
export class LazySignal {
  #controller: AbortController | null = null;
  #aborted = false;
  #reason: unknown = undefined;

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** Aborts the `signal` of a Request from newRequest() now, or as soon as it is made. */
export function abortRequest(request: Request, reason: unknown): void {
  requestClass?.abort(request, reason);
}
