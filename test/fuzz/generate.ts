// Valid FastCGI request streams shaped like what real fronts send: nginx (all params in one padded
// record, body in padded records), Apache (no padding, 8 KiB body records), h2o/libfcgi (params cut
// anywhere, G5), multiplexed ids, keep-alive id reuse, GET_VALUES at any point, ABORT_REQUEST, and
// the Authorizer and Filter roles. The routes are those of test/fixtures/app.js.

import { pairs, T } from "../lib/fcgi.ts";
import { type Expect, expectFor } from "./expect.ts";
import type { Rng } from "./rng.ts";

/** One request in a generated stream, for the checks that need to know what was asked. */
export interface Req {
  id: number;
  route: string;
  /** The app may legitimately end it without END_REQUEST (a response body that breaks mid-way). */
  mayFail: boolean;
  /** Its answer, checked when the stream is sent whole and unmutated (absent: not fixed, or a case saved before). */
  expect?: Expect;
  /** The offset just past its last record in the unmutated stream (absent in cases saved before). */
  end?: number;
}

export interface Generated {
  pattern: string;
  /** Encoded records in sending order; mutators work on this list. */
  records: Uint8Array[];
  requests: Req[];
  /** Record indices where a request reuses an id: a front sends them only after the previous END_REQUEST. */
  waits: number[];
}

/** One record, with `padding` bytes after the content (F11). */
export function rec(
  type: number,
  id: number,
  content: Uint8Array = new Uint8Array(0),
  padding = 0,
  version = 1,
): Uint8Array {
  const out = new Uint8Array(8 + content.length + padding);
  out.set([version, type, id >> 8, id & 0xff, content.length >> 8, content.length & 0xff, padding, 0]);
  out.set(content, 8);
  return out;
}

/** A request to draw: what it asks, and with what body. */
export interface Route {
  method: string;
  uri: string;
  role: number;
  body?: Uint8Array;
  data?: Uint8Array;
  headers?: Record<string, string>;
  mayFail?: boolean;
}

function route(rng: Rng): Route {
  const body = (large = 0.1) => rng.bytes(rng.size(rng.chance(large) ? 200_000 : 5000));
  const r = rng.int(28);
  switch (r) {
    case 0:
      return { method: "GET", uri: "/hello", role: 1 };
    case 1:
      return { method: "HEAD", uri: "/hello", role: 1 };
    case 2:
      return {
        method: "POST",
        uri: "/echo",
        role: 1,
        body: body(),
        headers: { CONTENT_TYPE: "application/octet-stream" },
      };
    case 3:
      return { method: "POST", uri: "/count", role: 1, body: body() };
    case 4:
      return { method: "PUT", uri: "/count?x=1", role: 1, body: body() };
    case 5:
      return { method: "GET", uri: `/big?n=${rng.size(300_000)}`, role: 1 };
    case 6:
      return { method: "GET", uri: "/empty", role: 1 };
    case 7:
      return { method: "GET", uri: "/stream?n=2&gap=5", role: 1 };
    case 8:
      return {
        method: "GET",
        uri: rng.pick(["/throw", "/throw-async", "/not-a-response", "/stream-error-early"]),
        role: 1,
      };
    case 9:
      return { method: "GET", uri: "/stream-error", role: 1, mayFail: true };
    case 10:
      return { method: "GET", uri: rng.pick(["/cookies", "/redirect", "/hop", "/log", "/wait-until"]), role: 1 };
    case 11:
      return { method: "GET", uri: "/slow?ms=20", role: 1 };
    case 12:
      return { method: "GET", uri: "/ignore-abort?ms=20", role: 1 };
    case 13:
      return { method: "GET", uri: "/env?a=%20b&c", role: 1 };
    case 14:
      return { method: "TRACE", uri: "/hello", role: 1 };
    case 15:
      return {
        method: "GET",
        uri: "/auth",
        role: 2,
        headers: { HTTP_AUTHORIZATION: rng.pick(["Bearer good", "Bearer bad"]) },
      };
    case 16:
      return { method: "GET", uri: "/filter", role: 3, data: rng.bytes(rng.size(3000)) };
    case 17:
      return { method: "GET", uri: "/no/such/route", role: 1 };
    case 18:
      return { method: "OPTIONS", uri: "*", role: 1 };
    case 19:
      return {
        method: "GET",
        uri: "/hello",
        role: 1,
        headers: { HTTP_X_BIG: "v".repeat(rng.pick([100, 8192, 8193, 20000])) },
      };
    case 20:
      return {
        method: "GET",
        uri: "/hello",
        role: 1,
        headers: Object.fromEntries(Array.from({ length: rng.pick([10, 199, 250]) }, (_, i) => [`HTTP_X_H${i}`, "1"])),
      };
    case 21:
      return { method: "GET", uri: "/hello", role: rng.pick([0, 4, 0xffff]) }; // unknown role: refused (F27)
    case 22:
      return {
        method: "POST",
        uri: "/echo",
        role: 1,
        body: body(),
        headers: { CONTENT_LENGTH: "", HTTP_TRANSFER_ENCODING: "chunked" },
      };
    // The paths that skip streams: a long text body laid out as records, a body read whole.
    case 23:
      return { method: "GET", uri: `/big?n=${rng.size(300_000)}&text`, role: 1 };
    case 24:
      return {
        method: "POST",
        uri: `/read?as=${rng.pick(["text", "arrayBuffer", "bytes"])}`,
        role: 1,
        body: body(0.5),
      };
    case 25:
      return { method: "POST", uri: "/sum?whole=0", role: 1, body: body(0.5) }; // large: a body of many pieces
    case 26:
      return { method: "GET", uri: "/filter", role: 3, data: rng.bytes(rng.size(100_000)) };
    default:
      return { method: "GET", uri: "/hello?" + "q=1&".repeat(rng.int(50)), role: 1 };
  }
}

/** nginx's fastcgi_params plus the request's own headers. */
function params(r: Route, rng: Rng): Record<string, string> {
  const [path, query = ""] = r.uri.split("?");
  const p: Record<string, string> = {
    QUERY_STRING: query,
    REQUEST_METHOD: r.method,
    CONTENT_TYPE: "",
    CONTENT_LENGTH: r.body ? String(r.body.length) : "",
    SCRIPT_NAME: path,
    REQUEST_URI: r.uri,
    DOCUMENT_URI: path,
    DOCUMENT_ROOT: "/srv/www",
    SERVER_PROTOCOL: "HTTP/1.1",
    REQUEST_SCHEME: rng.pick(["http", "https"]),
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_SOFTWARE: "nginx/1.26.0",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_PORT: String(rng.range(1024, 65535)),
    SERVER_ADDR: "127.0.0.1",
    SERVER_PORT: "8080",
    SERVER_NAME: "example.test",
    REDIRECT_STATUS: "200",
    HTTP_HOST: "example.test:8080",
    HTTP_USER_AGENT: "fuzz/1",
    HTTP_ACCEPT: "*/*",
  };
  if (r.data) p.FCGI_DATA_LENGTH = String(r.data.length);
  return { ...p, ...r.headers };
}

/** A stream's content as records of at most `size` bytes (nginx-style padded if `align`), then the empty end record. */
function streamRecs(type: number, id: number, content: Uint8Array, size: number, align: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < content.length; i += size) {
    const piece = content.subarray(i, i + size);
    out.push(rec(type, id, piece, align ? (8 - (piece.length % 8)) % 8 : 0));
  }
  out.push(rec(type, id));
  return out;
}

/** Params cut at random points into records, as h2o or libfcgi may (a pair or a length split across records). */
function cutRecs(type: number, id: number, content: Uint8Array, rng: Rng): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < content.length) {
    const n = Math.min(content.length - i, 1 + rng.int(Math.min(0xffff, rng.chance(0.5) ? 16 : 400)));
    out.push(rec(type, id, content.subarray(i, i + n)));
    i += n;
  }
  out.push(rec(type, id));
  return out;
}

/** How a front cuts a request into records. */
export const STYLES = ["nginx", "apache", "split"] as const;
type Style = (typeof STYLES)[number];
/** What goes on one connection (single is drawn twice as often). */
export const PATTERNS = ["single", "keepalive", "mux", "abort", "management"] as const;

/** One whole request's records, and the answer it must get. */
function request(
  id: number,
  r: Route,
  keepConn: boolean,
  style: Style,
  rng: Rng,
): { records: Uint8Array[]; expect?: Expect } {
  const begin = rec(T.BEGIN, id, Uint8Array.of(r.role >> 8, r.role & 0xff, keepConn ? 1 : 0, 0, 0, 0, 0, 0));
  const sent = params(r, rng);
  const p = pairs(sent);
  const align = style === "nginx";
  // A front sends the params in as few records as fit (nginx refuses more than 64 KiB, G5).
  const paramRecs = style === "split" ? cutRecs(T.PARAMS, id, p, rng) : streamRecs(T.PARAMS, id, p, 0xffff, align);
  const bodySize = style === "nginx" ? 32768 : style === "apache" ? 8192 : 1 + rng.int(0xffff);
  const stdin = streamRecs(T.STDIN, id, r.body ?? new Uint8Array(0), bodySize, align);
  const data = r.data ? streamRecs(T.DATA, id, r.data, bodySize, align) : [];
  return { records: [begin, ...paramRecs, ...stdin, ...data], expect: expectFor(r, sent) };
}

function getValues(rng: Rng): Uint8Array {
  const names = ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS", "FCGI_OTHER"].filter(() => rng.chance(0.7));
  return rec(T.GET_VALUES, 0, pairs(names.map((n) => [n, ""] as [string, string])));
}

/** Interleaves per-request record lists at random, keeping each list's own order. */
function interleave(lists: Uint8Array[][], rng: Rng): Uint8Array[] {
  const out: Uint8Array[] = [];
  const queues = lists.map((l) => [...l]);
  while (queues.some((q) => q.length)) {
    const live = queues.filter((q) => q.length);
    out.push(rng.pick(live).shift()!);
  }
  return out;
}

export function generate(rng: Rng): Generated {
  const style: Style = rng.pick(STYLES);
  const pattern = rng.pick(["single", ...PATTERNS]);
  const requests: Req[] = [];
  const add = (id: number, r: Route, expect?: Expect) =>
    requests.push({ id, route: `${r.method} ${r.uri} role ${r.role}`, mayFail: !!r.mayFail, expect });
  let records: Uint8Array[];
  const waits: number[] = [];
  switch (pattern) {
    case "single": {
      const r = route(rng);
      const req = request(1, r, rng.chance(0.5), style, rng);
      add(1, r, req.expect);
      records = req.records;
      break;
    }
    case "keepalive": {
      // nginx with an upstream keepalive pool: the same id, one request after another, KEEP_CONN set.
      records = [];
      for (let i = rng.range(2, 4); i > 0; i--) {
        const r = route(rng);
        const req = request(1, r, true, style, rng);
        add(1, r, req.expect);
        if (records.length) waits.push(records.length);
        records.push(...req.records);
      }
      break;
    }
    case "mux": {
      const ids = [
        ...new Set(
          Array.from({ length: rng.range(2, 5) }, () => (rng.chance(0.7) ? rng.range(1, 8) : rng.range(1, 0xffff))),
        ),
      ];
      const lists = ids.map((id) => {
        const r = route(rng);
        const req = request(id, r, true, style, rng);
        add(id, r, req.expect);
        return req.records;
      });
      records = interleave(lists, rng);
      break;
    }
    case "abort": {
      // The client went away: ABORT after the params, with the body never finished.
      const r: Route = rng.pick([
        { method: "GET", uri: "/slow?ms=5000", role: 1 },
        { method: "GET", uri: "/ignore-abort?ms=100", role: 1 },
        { method: "POST", uri: "/count", role: 1, body: rng.bytes(100) },
      ]);
      add(1, r); // aborted: its answer is not fixed
      const all = request(1, r, rng.chance(0.5), style, rng).records;
      const end = all.findIndex((x) => x[1] === T.PARAMS && x[4] === 0 && x[5] === 0);
      records = [...all.slice(0, end + 1 + rng.int(2)), rec(T.ABORT, 1)];
      break;
    }
    default: {
      records = [getValues(rng)];
      if (rng.chance(0.6)) {
        const r = route(rng);
        const { records: req, expect } = request(1, r, true, style, rng);
        add(1, r, expect);
        const at = rng.int(req.length + 1);
        records = [...req.slice(0, at), getValues(rng), ...req.slice(at)];
      }
      if (rng.chance(0.3)) records.push(rec(rng.pick([T.BEGIN, T.STDIN, 0, 12, 200]), 0, rng.bytes(rng.int(9)))); // unknown management type (F23)
    }
  }
  markEnds(records, requests);
  return { pattern: `${pattern}/${style}`, records, requests, waits };
}

/** Sets each request's `end`: an id's records belong to its latest BEGIN_REQUEST, requests of one id come in order. */
function markEnds(records: Uint8Array[], requests: Req[]): void {
  const current = new Map<number, Req>();
  const taken = new Set<Req>();
  let offset = 0;
  for (const r of records) {
    offset += r.length;
    const id = (r[2] << 8) | r[3];
    if (id === 0) continue;
    if (r[1] === T.BEGIN) {
      const next = requests.find((q) => q.id === id && !taken.has(q));
      if (next) {
        taken.add(next);
        current.set(id, next);
      } else current.delete(id);
    }
    const req = current.get(id);
    if (req) req.end = offset;
  }
}
