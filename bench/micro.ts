// Microbenchmarks of the core's hot paths with mitata: the record parser on a stream of typical
// nginx request records, the params decoder on a typical nginx param set, and response encoding.
//   npm run bench:micro        (Node 24; also: bun bench/micro.ts, deno run -A bench/micro.ts)

import { bench, do_not_optimize, group, run } from "mitata";
import { Output } from "../core/output.ts";
import { decodePairs, PairDecoder } from "../core/pairs.ts";
import { RecordParser } from "../core/parser.ts";
import { concat, encodeBeginRequest, encodePairs, encodeRecord, KEEP_CONN, RoleCode, Type } from "../core/records.ts";
import { encodeHead, headText } from "../core/response.ts";

/** What nginx sends for a browser GET with Debian's fastcgi_params: 27 params, about 1 KiB. */
const NGINX_PARAMS: [string, string][] = [
  ["QUERY_STRING", "page=2&sort=name"],
  ["REQUEST_METHOD", "GET"],
  ["CONTENT_TYPE", ""],
  ["CONTENT_LENGTH", ""],
  ["SCRIPT_NAME", "/api/items"],
  ["REQUEST_URI", "/api/items?page=2&sort=name"],
  ["DOCUMENT_URI", "/api/items"],
  ["DOCUMENT_ROOT", "/usr/share/nginx/html"],
  ["SERVER_PROTOCOL", "HTTP/1.1"],
  ["REQUEST_SCHEME", "https"],
  ["HTTPS", "on"],
  ["GATEWAY_INTERFACE", "CGI/1.1"],
  ["SERVER_SOFTWARE", "nginx/1.22.1"],
  ["REMOTE_ADDR", "203.0.113.77"],
  ["REMOTE_PORT", "51234"],
  ["SERVER_ADDR", "192.0.2.10"],
  ["SERVER_PORT", "443"],
  ["SERVER_NAME", "example.com"],
  ["REDIRECT_STATUS", "200"],
  ["HTTP_HOST", "example.com"],
  ["HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"],
  ["HTTP_ACCEPT", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
  ["HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.5"],
  ["HTTP_ACCEPT_ENCODING", "gzip, deflate, br, zstd"],
  ["HTTP_COOKIE", "session=2b7e151628aed2a6abf7158809cf4f3c; theme=dark; _ga=GA1.1.123456789.1700000000"],
  ["HTTP_REFERER", "https://example.com/api/items?page=1&sort=name"],
  ["HTTP_CONNECTION", "keep-alive"],
];
const PARAMS = encodePairs(NGINX_PARAMS);

function request(id: number, params: Uint8Array, body?: Uint8Array): Uint8Array {
  const parts = [
    encodeBeginRequest(id, RoleCode.RESPONDER, KEEP_CONN),
    encodeRecord(Type.PARAMS, id, params),
    encodeRecord(Type.PARAMS, id),
  ];
  if (body) parts.push(encodeRecord(Type.STDIN, id, body));
  parts.push(encodeRecord(Type.STDIN, id));
  return concat(parts);
}

const GET = request(1, PARAMS);
const POST = request(1, encodePairs([...NGINX_PARAMS, ["CONTENT_LENGTH", "16384"]]), new Uint8Array(16384).fill(120));
// 64 requests back to back, as a busy kept connection delivers them, cut into 16 KiB reads.
const STREAM = concat(Array.from({ length: 64 }, () => GET));
const READS = Array.from(
  { length: Math.ceil(STREAM.length / 16384) },
  (_, i) => STREAM.subarray(i * 16384, (i + 1) * 16384),
);

let records = 0;
const parser = new RecordParser((type, id, _bytes, start, end) => {
  records += end - start + type + id;
});

group("parser: RecordParser.push", () => {
  bench(`GET request, 1 chunk (${GET.length} B)`, () => parser.push(GET));
  bench(`POST with 16 KiB body, 1 chunk (${POST.length} B)`, () => parser.push(POST));
  bench(`64 GET requests in ${READS.length} × 16 KiB reads`, () => {
    for (const r of READS) parser.push(r);
  });
});

const LIMITS = { maxBytes: 262144, maxPairs: 1000, maxLength: 131072 };
const PIECES = Array.from(
  { length: Math.ceil(PARAMS.length / 100) },
  (_, i) => PARAMS.subarray(i * 100, (i + 1) * 100),
);

group(`params: ${NGINX_PARAMS.length} nginx params (${PARAMS.length} B)`, () => {
  bench("decodePairs, whole", () => do_not_optimize(decodePairs(PARAMS, LIMITS)));
  bench("PairDecoder into an object, whole", () => {
    const env: Record<string, string> = {};
    new PairDecoder(LIMITS, (k, v) => (env[k] = v)).push(PARAMS);
    do_not_optimize(env);
  });
  bench(`PairDecoder, ${PIECES.length} pieces of 100 B`, () => {
    const env: Record<string, string> = {};
    const d = new PairDecoder(LIMITS, (k, v) => (env[k] = v));
    for (const p of PIECES) d.push(p);
    do_not_optimize(env);
  });
});

const HELLO = new Response("Hello, World!", { headers: { "content-type": "text/plain" } });
const headers = new Headers({
  "content-type": "application/json",
  "cache-control": "no-store",
  "x-request-id": "4f1c2a9e-5b7d-4c1a-9e3f-2a6b8c0d1e2f",
  vary: "Accept-Encoding",
});
headers.append("set-cookie", "session=abc; Path=/; HttpOnly; Secure");
headers.append("set-cookie", "theme=dark; Path=/");
const API = new Response("{}", { status: 201, headers });
const HELLO_BODY = new TextEncoder().encode("Hello, World!");
const HELLO_HEAD = headText(HELLO);
const BIG = new Uint8Array(256 * 1024).fill(120);
const sink = {
  write: (c: Uint8Array) => void do_not_optimize(c),
  writev: (cs: readonly Uint8Array[]) => void do_not_optimize(cs),
};

group("response: encodeHead + records", () => {
  bench("encodeHead, 1 header", () => do_not_optimize(encodeHead(HELLO)));
  bench("encodeHead, 6 headers incl. 2 Set-Cookie", () => do_not_optimize(encodeHead(API)));
  bench("whole /hello answer: head + body + end records (Output)", () => {
    const out = new Output(sink, 1);
    out.stdout(encodeHead(HELLO));
    out.stdout(HELLO_BODY);
    out.endStdout();
    out.end(0);
  });
  bench("whole /hello answer in one cut (Output.endSmall, the lazy Response's path)", () => {
    new Output(sink, 1).endSmall(HELLO_HEAD, "Hello, World!");
  });
  bench("256 KiB body as STDOUT records (encodeRecord)", () => do_not_optimize(encodeRecord(Type.STDOUT, 1, BIG)));
});

await run({ colors: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR });
if (records < 0) console.log(records); // keeps the parser's handler observable
