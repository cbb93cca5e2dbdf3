// Property tests through the core's Connection, in-process: however the web server cuts PARAMS into
// records and the socket cuts bytes into chunks, the same limits trip (431) and GET_VALUES gets the
// same single answer.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Worker } from "../../core/worker.ts";
import { encodeBeginRequest, encodePairs, encodeRecord, KEEP_CONN, Type } from "../../core/records.ts";
import { MemoryConn, settle } from "../lib/memory.ts";
import { checkAsync, fill, RUNS, split, splits } from "../lib/prop.ts";
import { readPairs, readRecords } from "../lib/wire.ts";

const dec = new TextDecoder();

/** `content` as a stream of records cut at `cuts`, then the empty end record (F15). */
function streamRecords(type: number, id: number, content: Uint8Array, cuts: number[] | "bytes"): Uint8Array {
  return Buffer.concat([...split(content, cuts).map((p) => encodeRecord(type, id, p)), encodeRecord(type, id)]);
}

/** Feeds `chunks` to a fresh connection and returns what it wrote once `done` holds for the records. */
async function exchange(worker: Worker, chunks: Uint8Array[], done: (types: number[]) => boolean): Promise<Uint8Array> {
  const conn = new MemoryConn();
  worker.serveConn(conn);
  for (const c of chunks) conn.readable.push(c);
  await settle(() => done(readRecords(conn.output).records.map((r) => r.type)));
  conn.close();
  return conn.output;
}

function status(output: Uint8Array): number {
  const stdout = Buffer.concat(readRecords(output).records.filter((r) => r.type === Type.STDOUT).map((r) => r.content));
  const m = /^Status: (\d+)/m.exec(dec.decode(stdout));
  return m ? Number(m[1]) : 200;
}

const LIMITS = { maxParamsBytes: 1024, maxParams: 8, maxParamLength: 256 };
const BASE: [string, string][] = [["REQUEST_METHOD", "GET"], ["REQUEST_URI", "/"], ["HTTP_HOST", "x"]];
const value = fc.oneof(fc.nat(20), fc.constantFrom(127, 128, 255, 256, 257, 400)).chain((n) =>
  fc.nat().map((s) => fill(n, s, 0x3f).map((b) => b + 0x40))
);
const extra = fc.array(value, { maxLength: 8 }).map((vs) =>
  vs.map((v, i) => [`X_${i}`, dec.decode(v)] as [string, string])
);

test("F15/F20: the same request is answered 200 or 431, by the limits, however PARAMS and the socket are split", async () => {
  const worker = new Worker(() => new Response("ok"), { log: () => {}, ...LIMITS });
  const seen = new Set<number>();
  await checkAsync(
    fc.asyncProperty(extra, splits, splits, async (more, recordCuts, socketCuts) => {
      const params = encodePairs([...BASE, ...more]);
      const trips = params.length > LIMITS.maxParamsBytes || BASE.length + more.length > LIMITS.maxParams ||
        more.some(([, v]) => v.length > LIMITS.maxParamLength);
      const bytes = Buffer.concat([
        encodeBeginRequest(1, 1, KEEP_CONN),
        streamRecords(Type.PARAMS, 1, params, recordCuts),
        encodeRecord(Type.STDIN, 1),
      ]);
      const out = await exchange(worker, split(bytes, socketCuts), (t) => t.includes(Type.END_REQUEST));
      assert.equal(status(out), trips ? 431 : 200);
      seen.add(status(out));
    }),
    RUNS / 2,
  );
  if (RUNS >= 40) assert.deepEqual([...seen].sort(), [200, 431], "the draws reach both sides of the limits");
});

const KNOWN: Record<string, string> = { FCGI_MAX_CONNS: "7", FCGI_MAX_REQS: "9", FCGI_MPXS_CONNS: "1" };

test("F21/G4: GET_VALUES, however split, gets one GET_VALUES_RESULT with exactly the known names asked, in order", async () => {
  const worker = new Worker(() => new Response("ok"), { log: () => {}, maxConns: 7, maxRequests: 9 });
  const name = fc.oneof(fc.constantFrom(...Object.keys(KNOWN)), fc.constantFrom("FCGI_OTHER", "", "fcgi_max_conns"));
  await checkAsync(
    fc.asyncProperty(fc.array(name, { maxLength: 10 }), splits, async (names, cuts) => {
      const query = encodeRecord(Type.GET_VALUES, 0, encodePairs(names.map((n) => [n, ""])));
      const out = await exchange(worker, split(query, cuts), (t) => t.length > 0);
      const { records, rest } = readRecords(out);
      assert.equal(rest.length, 0);
      assert.deepEqual(records.map((r) => [r.type, r.id]), [[Type.GET_VALUES_RESULT, 0]]);
      const answer = readPairs(records[0].content).map(([n, v]) => [dec.decode(n), dec.decode(v)]);
      assert.deepEqual(answer, names.filter((n) => n in KNOWN).map((n) => [n, KNOWN[n]]));
    }),
    RUNS / 2,
  );
});

test("F23: any other management record type gets UNKNOWN_TYPE naming it, in order, however split", async () => {
  const worker = new Worker(() => new Response("ok"), { log: () => {} });
  const type = fc.integer({ min: 0, max: 255 }).filter((t) => t !== Type.GET_VALUES);
  await checkAsync(
    fc.asyncProperty(
      fc.array(fc.tuple(type, fc.nat(40)), { minLength: 1, maxLength: 6 }),
      splits,
      async (list, cuts) => {
        const bytes = Buffer.concat(list.map(([t, n]) => encodeRecord(t, 0, fill(n, t))));
        const out = await exchange(worker, split(bytes, cuts), (t) => t.length >= list.length);
        const { records } = readRecords(out);
        assert.deepEqual(
          records.map((r) => [r.type, r.id, r.content[0]]),
          list.map(([t]) => [Type.UNKNOWN_TYPE, 0, t]),
        );
      },
    ),
    RUNS / 2,
  );
});

test("F21: a GET_VALUES cut inside its last pair still answers the names read before it", async () => {
  const worker = new Worker(() => new Response("ok"), { log: () => {}, maxConns: 7 });
  // 0e 00 'FCGI_MAX_CONNS', then 05 00 'FCG': a second pair cut short
  const content = Buffer.concat([encodePairs([["FCGI_MAX_CONNS", ""]]), Uint8Array.of(5, 0, 0x46, 0x43, 0x47)]);
  const out = await exchange(worker, [encodeRecord(Type.GET_VALUES, 0, content)], (t) => t.length > 0);
  const [r] = readRecords(out).records;
  assert.deepEqual(readPairs(r.content).map(([n, v]) => [dec.decode(n), dec.decode(v)]), [["FCGI_MAX_CONNS", "7"]]);
});

test("a connection that reuses its read buffer (as Deno's does) still gives every handler its exact body, however split and however late it reads", async () => {
  const later = () => new Promise((r) => setImmediate(r));
  const handler = async (request: Request) => {
    for (let i = 0; i < 3; i++) await later(); // every chunk has been read, and its buffer reused, by now
    if (new URL(request.url).searchParams.has("stream")) {
      const parts: Uint8Array[] = [];
      for await (const part of request.body ?? []) parts.push(part);
      return new Response(Buffer.concat(parts));
    }
    return new Response(await request.arrayBuffer());
  };
  const workers = [false, true].map((lazyRequest) => new Worker(handler, { log: () => {}, lazyRequest }));
  const body = fc.oneof(fc.nat(300), fc.constantFrom(65535, 65536, 70000)).chain((n) =>
    fc.nat().map((s) => fill(n, s))
  );
  const req = fc.record({ body, cuts: splits, stream: fc.boolean() });
  await checkAsync(
    fc.asyncProperty(fc.array(req, { minLength: 1, maxLength: 3 }), splits, fc.nat(1), async (reqs, socketCuts, w) => {
      const bytes = Buffer.concat(reqs.map((r, i) =>
        Buffer.concat([
          encodeBeginRequest(i + 1, 1, KEEP_CONN),
          streamRecords(
            Type.PARAMS,
            i + 1,
            encodePairs([
              ["REQUEST_METHOD", "POST"],
              ["REQUEST_URI", r.stream ? "/?stream" : "/"],
              ["HTTP_HOST", "x"],
              ["CONTENT_LENGTH", String(r.body.length)],
            ]),
            "bytes",
          ),
          streamRecords(Type.STDIN, i + 1, r.body, r.cuts),
        ])
      ));
      const conn = new MemoryConn({ reuseReadBuffer: true });
      workers[w].serveConn(conn);
      for (const c of split(bytes, socketCuts)) conn.readable.push(c);
      await settle(
        () => readRecords(conn.output).records.filter((r) => r.type === Type.END_REQUEST).length === reqs.length,
        5000,
      );
      conn.close();
      const records = readRecords(conn.output).records;
      reqs.forEach((r, i) => {
        const stdout = Buffer.concat(
          records.filter((x) => x.type === Type.STDOUT && x.id === i + 1).map((x) => x.content),
        );
        const at = stdout.indexOf("\r\n\r\n");
        assert.ok(at > 0);
        assert.doesNotMatch(stdout.subarray(0, at).toString(), /^Status: (?!200)/m);
        assert.ok(
          Buffer.from(r.body).equals(stdout.subarray(at + 4)),
          `request ${i + 1}: body of ${r.body.length} bytes came back changed`,
        );
      });
    }),
    RUNS / 3,
  );
});
