// Response → CGI header block (rules S1–S8, docs/protocol.md).

import { cut, uncut } from "./slab.ts";

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Hop-by-hop headers (S6): the web server does the framing. `status` is ours to write. */
const DROPPED = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
  "status",
]);

/** Header names (lower-case) and values as a Headers would hold them. */
export type HeaderPairs = readonly (readonly [string, string])[];

/** What the header block is made of: a Response, or the parts of a lazy one. */
export interface Head {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers | HeaderPairs;
}

/**
 * The header block: every header (each Set-Cookie on its own line, S7), then `Status:` last (S1, S2;
 * HAProxy turns any status into 302 when `Location` follows `Status`), then the empty line.
 * An Authorizer's answer has `Status:` first instead (lighttpd drops the headers it sees before a
 * refusal's status) and its `Variable-NAME` names upper-cased, as CGI variables are (Headers
 * lower-cases them; Apache would set `user`, not `USER`).
 */
export function encodeHead(response: Head, authorizer = false): Uint8Array {
  return byteString(headText(response, authorizer));
}

/** The header block as text, one char per byte (see byteString). */
export function headText(response: Head, authorizer = false): string {
  let head = "";
  let extraDropped: string[] | undefined;
  const headers = response.headers;
  const connection = isPairs(headers) ? valueOf(headers, "connection") : headers.get("connection");
  if (connection) extraDropped = connection.toLowerCase().split(",").map((s) => s.trim());
  for (const [name, value] of headers) {
    if (DROPPED.has(name) || extraDropped?.includes(name)) continue;
    // Headers rejects CR/LF already; checked again because nothing else guards the wire.
    if (value.indexOf("\n") >= 0 || value.indexOf("\r") >= 0) continue;
    if (authorizer && name.startsWith("variable-")) head += `Variable-${name.slice(9).toUpperCase()}: ${value}\r\n`;
    else head += `${name}: ${value}\r\n`;
  }
  const status = response.status;
  // Bun lets CR/LF into statusText: only a valid reason-phrase is used, else the table's.
  const text = response.statusText;
  const reason = text && !/[^\t\x20-\x7e\x80-\xff]/.test(text) ? text : REASONS[status];
  const line = reason ? `Status: ${status} ${reason}\r\n` : `Status: ${status}\r\n`;
  return authorizer ? `${line}${head}\r\n` : `${head}${line}\r\n`;
}

function isPairs(headers: Headers | HeaderPairs): headers is HeaderPairs {
  return Array.isArray(headers);
}

function valueOf(pairs: HeaderPairs, name: string): string | null {
  for (const pair of pairs) if (pair[0] === name) return pair[1];
  return null;
}

/** One byte per char for ByteStrings (header values are Latin-1 on the wire); UTF-8 beyond U+00FF. */
export function byteString(s: string): Uint8Array {
  const out = cut(s.length);
  if (writeChars(s, out, 0, 0xff) >= 0) return out;
  uncut(out);
  return wide(s);
}

/**
 * Writes each char of `text` as one byte into `out` from `offset`: the offset after it, or -1 at
 * a char above `max` (0xFF for a ByteString, 0x7F for ASCII). `out` must have room.
 */
export function writeChars(text: string, out: Uint8Array, offset: number, max: number): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > max) return -1;
    out[offset++] = c;
  }
  return offset;
}

function wide(s: string): Uint8Array {
  const bytes: number[] = [];
  const utf8 = new TextEncoder();
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c <= 0xff) bytes.push(c);
    else bytes.push(...utf8.encode(ch));
  }
  return Uint8Array.from(bytes);
}

/** A plain-text response the worker makes itself (errors, refused methods). */
export function textResponse(status: number, text: string): Response {
  return new Response(text + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
