// What the worker must answer to each request of a valid stream: status and body as
// test/fixtures/app.js makes them, under the fuzz worker's limits. Checked on every valid case sent
// whole, so that a fast path that hands one request another's params, or a response another's
// bytes (multiplexed ids, params cut anywhere, ids reused on a kept connection), fails the fuzzer
// and not just a user.

import { cat, fnv, pairs, parseCgi, T } from "../lib/fcgi.ts";
import type { WireRecord } from "../lib/wire.ts";
import type { Route } from "./generate.ts";

/** The fuzz worker's param limits (WORKER_ARGS in harness.ts). */
export const LIMITS = { maxParamsBytes: 65536, maxParams: 200, maxParamLength: 8192 };

export interface Expect {
  /** END_REQUEST's protocolStatus when not 0 (then nothing is written on STDOUT). */
  protocolStatus?: number;
  status?: number;
  /** The body as UTF-8 text, exactly; a long one as its UTF-8 length and FNV-1a hash. */
  body?: string;
  bodyLength?: number;
  bodyHash?: number;
  /** Fields of the JSON body that must deep-equal these. */
  json?: Record<string, unknown>;
}

const LONG = 2000;
const utf8 = new TextDecoder();

/** What test/fixtures/app.js answers to `r` sent with `params`; undefined where it is not fixed. */
export function expectFor(r: Route, params: Record<string, string>): Expect | undefined {
  if (r.role < 1 || r.role > 3) return { protocolStatus: 3 }; // FCGI_UNKNOWN_ROLE, before the params
  if (overLimits(params)) return { status: 431 };
  if (r.method === "TRACE") return { status: 405 };
  if (!r.uri.startsWith("/")) return undefined; // OPTIONS *: the URL the runtime makes of it differs
  const [path, query = ""] = r.uri.split("?");
  const text = (
    body: string,
    status = 200,
  ): Expect => (r.method === "HEAD" ? { status, body: "" } : textBody(body, status));
  switch ("/" + path.split("/")[1]) { // the first segment picks the route, as in the app
    case "/hello":
      return text("hello");
    case "/echo":
      return r.body?.length ? { status: 200, json: { method: r.method, body: utf8.decode(r.body) } } : { status: 200 };
    case "/count":
      return text(String(r.body?.length ?? 0));
    case "/big": {
      const n = Number(new URLSearchParams(query).get("n"));
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
      return text(s);
    }
    case "/read": {
      const body = r.body ?? new Uint8Array(0);
      const as = new URLSearchParams(query).get("as");
      // The lazy Request (the fuzz worker's) has bytes() on every runtime. An empty body is a null
      // one (CONTENT_LENGTH 0), which reading does not mark used.
      return {
        status: 200,
        json: { as, length: as === "text" ? null : body.length, text: utf8.decode(body), used: body.length > 0 },
      };
    }
    case "/sum": { // ?whole: the body read whole, its length and FNV-1a hash; no x-tag header
      const body = r.body ?? new Uint8Array(0);
      return text(`${body.length} ${fnv(body)} null`);
    }
    case "/empty":
      return { status: 204, body: "" };
    case "/stream":
      return text("data: 1\n\ndata: 2\n\n");
    case "/throw":
    case "/throw-async":
    case "/not-a-response":
    case "/stream-error-early":
      return { status: 500 };
    case "/cookies":
      return text("cookies");
    case "/redirect":
      return { status: 301, body: "" };
    case "/hop":
      return text("hop");
    case "/log":
      return text("logged");
    case "/wait-until":
      return text("ok");
    case "/slow":
      return text("slept");
    case "/ignore-abort":
      return text("late");
    case "/env":
      return { status: 200, json: { env: params, frozen: true, role: "responder" } };
    case "/auth":
      // An Authorizer's 200 goes without a body (F42).
      return params.HTTP_AUTHORIZATION === "Bearer good" ? { status: 200, body: "" } : { status: 403, body: "denied" };
    case "/filter":
      return text(utf8.decode(r.data ?? new Uint8Array(0)).toUpperCase());
    case "/stream-error":
      return undefined; // may break mid-way
  }
  return text(`no route ${path}`, 404);
}

function textBody(body: string, status: number): Expect {
  if (body.length <= LONG) return { status, body };
  const bytes = new TextEncoder().encode(body);
  return { status, bodyLength: bytes.length, bodyHash: fnv(bytes) };
}

/** Whether the params pass any of the worker's limits (it answers 431). */
function overLimits(params: Record<string, string>): boolean {
  const entries = Object.entries(params);
  if (entries.length > LIMITS.maxParams) return true;
  const enc = new TextEncoder();
  if (
    entries.some(([n, v]) =>
      enc.encode(n).length > LIMITS.maxParamLength || enc.encode(v).length > LIMITS.maxParamLength
    )
  ) return true;
  return pairs(params).length > LIMITS.maxParamsBytes;
}

/** One request's answer as the worker wrote it: its STDOUT bytes and END_REQUEST's two statuses. */
export interface Answer {
  stdout: Uint8Array;
  /** END_REQUEST's appStatus: 0 for a response the worker completed, 1 for one it ended early (an abort). */
  appStatus: number;
  protocolStatus: number;
}

/** Each id's answers in order (an id reused on a kept connection answers once per request); unfinished ones left out. */
export function answersById(records: WireRecord[]): Map<number, Answer[]> {
  const open = new Map<number, Uint8Array[]>();
  const done = new Map<number, Answer[]>();
  for (const r of records) {
    if (r.type === T.STDOUT) {
      const parts = open.get(r.id) ?? [];
      parts.push(r.content);
      open.set(r.id, parts);
    } else if (r.type === T.END) {
      const stdout = cat(...(open.get(r.id) ?? []));
      open.delete(r.id);
      const list = done.get(r.id) ?? [];
      const view = new DataView(r.content.buffer, r.content.byteOffset, r.content.length);
      list.push({ stdout, appStatus: r.content.length >= 4 ? view.getUint32(0) : -1, protocolStatus: r.content[4] });
      done.set(r.id, list);
    }
  }
  return done;
}

/** How `got` differs from `want`, one line each; empty when it matches. */
export function compare(want: Expect, got: Answer): string[] {
  const errors: string[] = [];
  const status = got.protocolStatus;
  if (status !== (want.protocolStatus ?? 0)) return [`protocolStatus ${status}, not ${want.protocolStatus ?? 0}`];
  if (want.protocolStatus) {
    if (got.stdout.length) errors.push(`${got.stdout.length} STDOUT bytes for a refused request`);
    return errors;
  }
  let parsed: ReturnType<typeof parseCgi>;
  try {
    parsed = parseCgi(got.stdout);
  } catch {
    return [`no header block in ${got.stdout.length} STDOUT bytes`];
  }
  const { status: code, body, text } = parsed;
  if (want.status !== undefined && code !== want.status) errors.push(`status ${code}, not ${want.status}`);
  if (want.body !== undefined) {
    if (text !== want.body) {
      errors.push(
        `body ${JSON.stringify(text.slice(0, 80))} (${body.length} bytes), not ${
          JSON.stringify(want.body.slice(0, 80))
        }`,
      );
    }
  }
  if (want.bodyLength !== undefined && (body.length !== want.bodyLength || fnv(body) !== want.bodyHash)) {
    errors.push(`body of ${body.length} bytes, hash ${fnv(body)}; not ${want.bodyLength} bytes, hash ${want.bodyHash}`);
  }
  if (want.json) {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text);
    } catch {
      return [...errors, `body is not JSON: ${JSON.stringify(text.slice(0, 80))}`];
    }
    for (const [key, v] of Object.entries(want.json)) {
      const d = difference(value[key], v, key);
      if (d) errors.push(`JSON ${d}`);
    }
  }
  return errors;
}

/** Where `got` first differs from `want`, as "path: got, not want"; null when they are equal. */
function difference(got: unknown, want: unknown, at: string): string | null {
  if (got === want) return null;
  const show = (v: unknown) => (v === undefined ? "absent" : JSON.stringify(v).slice(0, 120));
  if (typeof got !== "object" || typeof want !== "object" || got === null || want === null) {
    return `${at}: ${show(got)}, not ${show(want)}`;
  }
  const g = got as Record<string, unknown>, w = want as Record<string, unknown>;
  for (const k of new Set([...Object.keys(w), ...Object.keys(g)])) {
    const d = difference(g[k], w[k], `${at}.${k}`);
    if (d) return d;
  }
  return null;
}
