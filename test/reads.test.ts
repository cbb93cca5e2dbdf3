// What a connection reads stays its own. On Node every connection reads into one shared buffer
// (runtimes/node.ts, readIntoShared), Deno reads each connection into a reused one, and Bun copies
// small reads into one per connection (runtimes/bun.ts, SMALL_READ): bytes the
// core keeps past a read (body pieces, a split param, a partial header) must be copies, and a read
// that arrives while the core is busy must be queued as a copy. Many connections at once, each
// sending its requests in pieces of any size, half of them read slowly (the body buffer fills, the
// connection pauses, reads queue) and a quarter read whole after a wait, each answered with its
// own body's hash and its own params.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { begin, cat, fnv, pairs, parseCgi, RawConn, stream, T } from "./lib/fcgi.ts";
import { APP, runtimes, startWorker, tmpDir } from "./lib/workers.ts";

/** A small deterministic generator, so that a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

const CONNS = 16;
const REQUESTS = 2; // per connection, on a kept connection: the one after a paused one must be right too

function request(conn: number, n: number, random: () => number): { bytes: Uint8Array; expect: string } {
  const id = 1 + n;
  const body = new Uint8Array(20000 + Math.floor(random() * 150000));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(random() * 256);
  // A long header value, so that params span several records and reads.
  const tag = `c${conn}r${n}-` + "x".repeat(500 + conn * 97);
  // A quarter read slowly as a stream, a quarter whole after a wait (queued while the handler
  // waits, then taken at once), the rest as fast as they come.
  const query = ["", "delay=1", "whole=20", "delay=1"][conn % 4];
  const params = pairs({
    GATEWAY_INTERFACE: "CGI/1.1",
    REQUEST_METHOD: "POST",
    REQUEST_URI: query ? `/sum?${query}` : "/sum",
    SCRIPT_NAME: "/sum",
    QUERY_STRING: query,
    SERVER_NAME: "example.test",
    SERVER_PORT: "8080",
    SERVER_PROTOCOL: "HTTP/1.1",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_PORT: String(40000 + conn),
    HTTP_HOST: "example.test",
    HTTP_X_TAG: tag,
    CONTENT_LENGTH: String(body.length),
  });
  const bytes = cat(
    begin(id, 1, true),
    stream(T.PARAMS, id, params, 1 + Math.floor(random() * 700)),
    stream(T.STDIN, id, body, 1 + Math.floor(random() * 9000)),
  );
  return { bytes, expect: `${body.length} ${fnv(body)} ${tag}` };
}

/** Writes `bytes` in pieces of 1 byte to 12 KiB, yielding between some, so that reads of all connections interleave. */
async function sendInPieces(c: RawConn, bytes: Uint8Array, random: () => number): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const size = random() < 0.1 ? 1 + Math.floor(random() * 8) : 1 + Math.floor(random() * 12288);
    c.send(bytes.subarray(at, at += size));
    if (random() < 0.3) await new Promise((r) => setImmediate(r));
  }
}

for (const rt of runtimes()) {
  describe(`reads on ${rt.name}`, () => {
    test(`${CONNS} connections at once, sent in pieces, half read slowly, a quarter whole after a wait: every answer is its own request's`, async () => {
      const dir = tmpDir();
      // A small body buffer, so that the slow readers pause their connections often.
      const w = await startWorker(rt, [APP, "--listen", `unix:${dir}/w.sock`, "--body-buffer", "16384"]);
      try {
        await Promise.all(Array.from({ length: CONNS }, async (_, conn) => {
          const random = prng(1000 + conn);
          const c = await RawConn.connect(w.address);
          try {
            for (let n = 0; n < REQUESTS; n++) {
              const { bytes, expect } = request(conn, n, random);
              await sendInPieces(c, bytes, random);
              const r = await c.response(1 + n, 30000);
              assert.equal(r.appStatus, 0, `connection ${conn} request ${n}: ${r.stderr}`);
              const answer = parseCgi(r.stdout);
              assert.equal(answer.status, 200, `connection ${conn} request ${n}`);
              // Compared as a boolean: the tag is long, and a diff of it says nothing.
              assert.ok(
                answer.text === expect,
                `connection ${conn} request ${n}: got ${answer.text.slice(0, 60)}…, expected ${expect.slice(0, 60)}…`,
              );
            }
          } finally {
            c.close();
          }
        }));
      } finally {
        await w.stop();
      }
    });

    test("small reads that come while the connection is paused are queued as they were", async () => {
      const dir = tmpDir();
      const w = await startWorker(rt, [APP, "--listen", `unix:${dir}/w.sock`, "--body-buffer", "16384"]);
      try {
        const c = await RawConn.connect(w.address);
        try {
          const random = prng(7);
          const body = new Uint8Array(48000);
          for (let i = 0; i < body.length; i++) body[i] = Math.floor(random() * 256);
          const params = pairs({
            REQUEST_METHOD: "POST",
            REQUEST_URI: "/sum?delay=100",
            SCRIPT_NAME: "/sum",
            QUERY_STRING: "delay=100",
            HTTP_HOST: "example.test",
            HTTP_X_TAG: "t",
            CONTENT_LENGTH: String(body.length),
          });
          const bytes = cat(begin(1, 1, true), stream(T.PARAMS, 1, params), stream(T.STDIN, 1, body, 8000));
          // More than --body-buffer at once (the handler reads a chunk per 100 ms, so the connection
          // pauses), then the rest in small pieces, each its own read, while it is paused.
          const first = bytes.length - 4000;
          c.send(bytes.subarray(0, first));
          for (let at = first; at < bytes.length; at += 500) {
            await new Promise((r) => setTimeout(r, 2));
            c.send(bytes.subarray(at, at + 500));
          }
          const r = await c.response(1, 30000);
          assert.equal(parseCgi(r.stdout).text, `${body.length} ${fnv(body)} t`);
        } finally {
          c.close();
        }
      } finally {
        await w.stop();
      }
    });
  });
}
