// FastCGI params → web Request (RFC 3875 rules C1–C12, docs/protocol.md).

import type { Params } from "./types.ts";

/** Methods a Request cannot carry (Fetch forbids them); answered 405 without calling the handler. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** An HTTP token (RFC 9110, 5.6.2): what methods and header names are made of. */
export const TOKEN: RegExp = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isForbiddenMethod(method: string): boolean {
  // The usual methods skip the upper-casing, which every request would pay.
  if (method === "GET" || method === "POST" || method === "HEAD") return false;
  return FORBIDDEN_METHODS.has(method.toUpperCase());
}

export function methodOf(params: Params): string {
  return params.REQUEST_METHOD || "GET";
}

/** Whether STDIN becomes the request body: never for GET/HEAD (C12), not for a declared empty body. */
export function hasBody(method: string, params: Params): boolean {
  if (method === "GET" || method === "HEAD") return false;
  const length = params.CONTENT_LENGTH ?? params.HTTP_CONTENT_LENGTH;
  return length !== "0";
}

/** A length param as a number, or -1 when unknown (absent, `-1` from Caddy, or malformed). */
export function parseLength(value: string | undefined): number {
  return value && /^\d{1,15}$/.test(value) ? Number(value) : -1;
}

/** The declared body length, or -1 when unknown. */
export function declaredLength(params: Params): number {
  return parseLength(params.CONTENT_LENGTH || params.HTTP_CONTENT_LENGTH);
}

function isOn(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value.toLowerCase() !== "off" && value !== "0";
}

/** The absolute URL: REQUEST_URI (raw, C3) on HTTP_HOST or SERVER_NAME:SERVER_PORT (C7), scheme from HTTPS/REQUEST_SCHEME (C10). */
export function requestUrl(p: Params): string {
  const given = p.REQUEST_SCHEME;
  const https = isOn(p.HTTPS) || given === "https" || (given !== "http" && given?.toLowerCase() === "https");
  const scheme = https ? "https" : "http";
  let path = p.REQUEST_URI;
  if (path) {
    // Apache, h2o and HAProxy pass an absolute-form request line as is.
    if (/^https?:\/\//i.test(path)) return path;
    if (path[0] !== "/") path = "/" + path; // `OPTIONS *`
  } else {
    const script = (p.SCRIPT_NAME ?? "") + (p.PATH_INFO ?? "");
    path = encodeURI(script || "/").replaceAll("?", "%3F").replaceAll("#", "%23") + (p.QUERY_STRING ? "?" + p.QUERY_STRING : "");
    if (path[0] !== "/") path = "/" + path;
  }
  return `${scheme}://${authority(p, https)}${path}`;
}

function authority(p: Params, https: boolean): string {
  if (p.HTTP_HOST) return p.HTTP_HOST;
  let name = p.SERVER_NAME || p.SERVER_ADDR || "localhost";
  const colons = name.split(":").length - 1;
  if (colons > 1 && name[0] !== "[") name = `[${name}]`; // a bare IPv6 address
  else if (colons === 1) return name; // HAProxy's SERVER_NAME carries the port already
  const port = p.SERVER_PORT;
  if (!port || port === (https ? "443" : "80")) return name;
  return `${name}:${port}`;
}

/** Request headers from HTTP_* params (C5, C6), content type/length merged with their CGI twins. */
const headerNames = new Map<string, string>();

/** HTTP_ACCEPT_LANGUAGE → accept-language, remembered for the names every request repeats. */
export function headerName(param: string): string {
  let name = headerNames.get(param);
  if (name === undefined) {
    name = param.slice(5).toLowerCase().replaceAll("_", "-");
    if (headerNames.size < 1024) headerNames.set(param, name);
  }
  return name;
}

/** An HTTP_* param that becomes a header as it is; the content type and length are merged with their CGI twins instead. */
export function isHeaderParam(name: string): boolean {
  // 72 = "H": most params are not headers, and this rules them out at the first character.
  return name.charCodeAt(0) === 72 && name.startsWith("HTTP_") && name !== "HTTP_CONTENT_TYPE" && name !== "HTTP_CONTENT_LENGTH";
}

function httpHeaders(p: Params): [string, string][] {
  const list: [string, string][] = [];
  for (const key in p) if (isHeaderParam(key)) list.push([headerName(key), p[key]]);
  return list;
}

/**
 * The request's header list. `fromParams`, when the caller has it (env.ts), holds the header
 * params (isHeaderParam) as headers; else they are read from `p`.
 */
export function headerList(p: Params, fromParams: [string, string][] | null = null): [string, string][] {
  const list = fromParams ?? httpHeaders(p);
  const type = p.CONTENT_TYPE || p.HTTP_CONTENT_TYPE;
  if (type) list.push(["content-type", type]);
  const length = declaredLength(p);
  if (length >= 0) list.push(["content-length", String(length)]);
  if (p.HTTP_AUTHORIZATION === undefined) {
    // Apache hides Authorization unless a SetEnvIf/RewriteRule (or CGIPassAuth) puts it back.
    const auth = p.REDIRECT_HTTP_AUTHORIZATION;
    if (auth) list.push(["authorization", auth]);
  }
  return list;
}

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
 * The value of a param seen again: repeated header params are joined (C6; nginx sends one per
 * header line). Any other param, and HTTP_HOST (repeated only by a `fastcgi_param HTTP_HOST`
 * override), takes the last value.
 */
export function mergeParam(name: string, prev: string | undefined, value: string): string {
  if (prev === undefined || !name.startsWith("HTTP_") || name === "HTTP_HOST") return value;
  return joinRepeated(name, prev, value);
}

/** Joins a repeated param (C6): cookies with "; ", other headers with ", ". */
export function joinRepeated(name: string, first: string, next: string): string {
  return first + (name === "HTTP_COOKIE" ? "; " : ", ") + next;
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
export function buildRequest(Class: new (url: string, init: RequestInit) => Request, url: string, init: RequestInit, onSkip: (message: string) => void): Request {
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
