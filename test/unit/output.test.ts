// Output: queued pieces leave in one write, adjacent pieces of a stream share records (cut at
// 65535 bytes), END_REQUEST once and nothing after it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { FramedBody, HEAD_ROOM } from "../../core/framed.ts";
import { Output, type Sink } from "../../core/output.ts";
import { lend } from "../../core/pool.ts";
import { RecordParser } from "../../core/parser.ts";
import { Type } from "../../core/records.ts";

interface Capture {
  sink: Sink;
  writes: Uint8Array[];
  /** write and writev calls */
  calls: number;
  /** The `sent` callbacks given, in order. */
  sent: (() => void)[];
  records(): [number, number, number][];
  bytes(type: number): Uint8Array;
}

function capture(): Capture {
  const writes: Uint8Array[] = [];
  const all = (): [number, number, Uint8Array][] => {
    const out: [number, number, Uint8Array][] = [];
    // Parsed as one chunk, each stream record comes out as one piece.
    new RecordParser((type, id, b, start, end) => out.push([type, id, b.slice(start, end)])).push(
      Buffer.concat(writes),
    );
    return out;
  };
  const cap: Capture = {
    sink: {
      write: (chunk: Uint8Array, sent?: () => void) => {
        cap.calls++;
        writes.push(chunk);
        if (sent) cap.sent.push(sent);
      },
      writev: (chunks: readonly Uint8Array[], sent?: () => void) => {
        cap.calls++;
        writes.push(...chunks);
        if (sent) cap.sent.push(sent);
      },
    },
    calls: 0,
    sent: [],
    writes,
    records: () => all().map(([t, id, c]): [number, number, number] => [t, id, c.length]),
    bytes: (type: number) => Buffer.concat(all().filter(([t]) => t === type).map(([, , c]) => c)),
  };
  return cap;
}

test("head, a ready body, the end of STDOUT and END_REQUEST: one write, one STDOUT record with content", () => {
  const cap = capture();
  const out = new Output(cap.sink, 7);
  out.stdout(new TextEncoder().encode("Status: 200 OK\r\n\r\n"));
  out.stdout(new TextEncoder().encode("hello"));
  out.endStdout();
  out.end(0);
  assert.equal(cap.writes.length, 1);
  assert.equal(cap.calls, 1);
  assert.deepEqual(cap.records(), [[Type.STDOUT, 7, 23], [Type.STDOUT, 7, 0], [Type.END_REQUEST, 7, 8]]);
  assert.equal(new TextDecoder().decode(cap.bytes(Type.STDOUT)), "Status: 200 OK\r\n\r\nhello");
});

test("a run longer than 65535 bytes is cut into full records; STDERR between keeps its place", () => {
  const cap = capture();
  const out = new Output(cap.sink, 1);
  const big = new Uint8Array(100000).map((_, i) => i % 251);
  out.stdout(big.subarray(0, 40000));
  out.stdout(big.subarray(40000));
  out.stderr("note\n");
  out.stdout(new Uint8Array([1, 2, 3]));
  assert.equal(out.pending, 100008);
  out.flush();
  assert.deepEqual(cap.records(), [[Type.STDOUT, 1, 65535], [Type.STDOUT, 1, 34465], [Type.STDERR, 1, 5], [
    Type.STDOUT,
    1,
    3,
  ]]);
  assert.deepEqual([...cap.bytes(Type.STDOUT)], [...big, 1, 2, 3]);
  assert.equal(out.pending, 0);
});

test("nothing after END_REQUEST; reset drops what is queued; abandon writes it without END_REQUEST", () => {
  const cap = capture();
  const out = new Output(cap.sink, 2);
  out.stdout(new Uint8Array([9]));
  out.reset();
  out.stdout(new Uint8Array([1]));
  out.end(0);
  out.stdout(new Uint8Array([2]));
  out.end(1);
  assert.equal(out.flush(), undefined);
  assert.deepEqual(cap.records(), [[Type.STDOUT, 2, 1], [Type.END_REQUEST, 2, 8]]);
  const cap2 = capture();
  const gone = new Output(cap2.sink, 3);
  gone.stdout(new Uint8Array([5]));
  gone.abandon();
  gone.end(0);
  assert.deepEqual(cap2.records(), [[Type.STDOUT, 3, 1]]);
});

test("STDERR records carry 1-8 zero bytes of padding and at most 8 KiB of content (HAProxy 2.6 dies on an unpadded one ending its read); others none", () => {
  const cap = capture();
  const out = new Output(cap.sink, 4);
  out.stdout(new Uint8Array([1, 2, 3]));
  out.stderr("note\n");
  out.stderr("12345678".repeat(1000) + "x".repeat(3000)); // joins the run: 11005 bytes, two records
  out.stdout(new Uint8Array(20000).fill(7)); // a view behind the padding
  out.stderr("last\n"); // the last record of the write
  out.flush();
  const bytes = Buffer.concat(cap.writes);
  const seen: [number, number, number][] = [];
  for (let at = 0; at < bytes.length;) {
    const [type, length, pad] = [bytes[at + 1], bytes.readUInt16BE(at + 4), bytes[at + 6]];
    assert.ok(bytes.subarray(at + 8 + length, at + 8 + length + pad).every((b) => b === 0), "padding bytes are zero");
    seen.push([type, length, pad]);
    at += 8 + length + pad;
  }
  assert.deepEqual(seen, [
    [Type.STDOUT, 3, 0],
    [Type.STDERR, 8192, 8],
    [Type.STDERR, 2813, 3],
    [Type.STDOUT, 20000, 0],
    [Type.STDERR, 5, 3],
  ]);
  assert.equal(
    new TextDecoder().decode(cap.bytes(Type.STDERR)),
    "note\n" + "12345678".repeat(1000) + "x".repeat(3000) + "last\n",
  );
});

test("large content is written as views of the handler's bytes, not copied; headers share one buffer", () => {
  const cap = capture();
  const out = new Output(cap.sink, 5);
  const big = new Uint8Array(100000).fill(7);
  out.stdout(new TextEncoder().encode("Status: 200 OK\r\n\r\n"));
  out.stdout(big);
  out.endStdout();
  out.end(0);
  const views = cap.writes.filter((w) => w.buffer === big.buffer);
  assert.equal(
    views.reduce((n, w) => n + w.length, 0),
    100000,
    "the body goes out as views (both record pieces are large)",
  );
  const own = new Set(cap.writes.filter((w) => w.buffer !== big.buffer).map((w) => w.buffer));
  assert.equal(own.size, 1, "headers and small content: one allocation");
  assert.equal(cap.calls, 1, "headers and views: one writev");
  assert.deepEqual(cap.records(), [[Type.STDOUT, 5, 65535], [Type.STDOUT, 5, 34483], [Type.STDOUT, 5, 0], [
    Type.END_REQUEST,
    5,
    8,
  ]]);
});

test("endSmall: head, body, the end of STDOUT and END_REQUEST in one write of one buffer, for text, bytes and no body", () => {
  const bodies: [string | Uint8Array | null, string][] = [
    ["Hello, World!", "Hello, World!"],
    ["x".repeat(64), "x".repeat(64)], // the longest char-by-char copy
    ["é€😀 past 64 chars: " + "y".repeat(60), "é€😀 past 64 chars: " + "y".repeat(60)], // encodeInto
    ["héllo €😀", "héllo €😀"], // short, not ASCII: encodeInto after the char-by-char copy gave up
    [new Uint8Array([104, 105]), "hi"],
    [null, ""],
  ];
  for (const [body, text] of bodies) {
    const cap = capture();
    const out = new Output(cap.sink, 9);
    const head = "content-type: text/plain\r\nStatus: 200 OK\r\n\r\n";
    assert.equal(out.endSmall(head, body), true);
    assert.equal(cap.calls, 1);
    assert.equal(cap.writes.length, 1);
    const bytes = new TextEncoder().encode(head + text);
    assert.deepEqual(cap.records(), [[Type.STDOUT, 9, bytes.length], [Type.STDOUT, 9, 0], [Type.END_REQUEST, 9, 8]]);
    assert.deepEqual([...cap.bytes(Type.STDOUT)], [...bytes]);
    assert.deepEqual([...cap.bytes(Type.END_REQUEST)], [0, 0, 0, 0, 0, 0, 0, 0], "appStatus 0, REQUEST_COMPLETE");
    assert.equal(out.ended, true);
    out.stdout(new Uint8Array([1]));
    out.end(1);
    assert.equal(cap.calls, 1, "nothing after END_REQUEST");
  }
});

test("endSmall declines, with nothing written, what it cannot do in one slab cut; the usual path then gives the same bytes", () => {
  const head = "Status: 200 OK\r\n\r\n";
  const declined: [string, string, string | Uint8Array][] = [
    ["a head with a char past 0xFF", "x-a: \u0101\r\n" + head, "hi"],
    ["a body past a slab cut", head, "z".repeat(5000)],
    ["bytes past a slab cut", head, new Uint8Array(5000).fill(3)],
  ];
  for (const [what, h, body] of declined) {
    const cap = capture();
    const out = new Output(cap.sink, 4);
    assert.equal(out.endSmall(h, body), false, what);
    assert.equal(cap.calls, 0, what);
    assert.equal(out.ended, false, what);
  }
  // Something already queued (a ctx.log line) keeps its place: endSmall leaves it to the queue.
  const cap = capture();
  const out = new Output(cap.sink, 4);
  out.stderr("note\n");
  assert.equal(out.endSmall(head, "hi"), false);
  assert.equal(cap.calls, 0);
});

test("endFramed: head, a framed body, the end of STDOUT and END_REQUEST leave in one write of the body's own buffer", () => {
  const head = "content-type: application/octet-stream\r\nStatus: 200 OK\r\n\r\n";
  const body = new Uint8Array(200000).map((_, i) => i % 253);
  const framed = FramedBody.copy(body)!;
  const cap = capture();
  const out = new Output(cap.sink, 0x1234);
  out.endFramed(head, framed);
  assert.equal(cap.calls, 1);
  assert.equal(cap.writes[0].buffer, framed.buffer.buffer, "no copy: a view of the framed buffer");
  assert.deepEqual(cap.records(), [
    [Type.STDOUT, 0x1234, head.length],
    [Type.STDOUT, 0x1234, 65535],
    [Type.STDOUT, 0x1234, 65535],
    [Type.STDOUT, 0x1234, 65535],
    [Type.STDOUT, 0x1234, 3395],
    [Type.STDOUT, 0x1234, 0],
    [Type.END_REQUEST, 0x1234, 8],
  ]);
  assert.deepEqual(cap.bytes(Type.STDOUT), Buffer.concat([Buffer.from(head, "latin1"), body]));
  assert.deepEqual([...cap.bytes(Type.END_REQUEST)], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(out.ended, true);
  out.stdout(new Uint8Array([1]));
  out.end(1);
  assert.equal(cap.calls, 1, "nothing after END_REQUEST");
  // The buffer goes back to the pool only once the socket is done with it.
  const size = framed.buffer.length;
  assert.notEqual(lend(size)!.buffer, framed.buffer.buffer, "still held by the socket");
  assert.equal(cap.sent.length, 1);
  cap.sent[0]();
  assert.equal(lend(size)!.buffer, framed.buffer.buffer, "given back once sent");
});

test("endFramed: what is queued goes first; a head too long for the room in front, or past 0xFF, goes as records of its own", () => {
  const body = "é".repeat(40000); // 80000 bytes of UTF-8
  const heads = [
    ["a head that fits, after a queued log line", "Status: 200 OK\r\n\r\n", true],
    ["a head longer than the room", `x-long: ${"v".repeat(HEAD_ROOM)}\r\nStatus: 200 OK\r\n\r\n`, false],
    ["a head with a char past 0xFF", "x-a: \u0101\r\nStatus: 200 OK\r\n\r\n", false],
  ] as const;
  for (const [what, head, inFront] of heads) {
    const cap = capture();
    const out = new Output(cap.sink, 3);
    out.stderr("note\n");
    const framed = FramedBody.encode(body)!;
    out.endFramed(head, framed);
    assert.equal(cap.calls, 2, `${what}: what was queued, then the framed buffer`);
    const last = cap.writes[cap.writes.length - 1];
    assert.equal(last.buffer, framed.buffer.buffer, what);
    assert.equal(last.byteOffset, inFront ? HEAD_ROOM - 8 - head.length : HEAD_ROOM, what);
    const headBytes = new TextEncoder().encode(head);
    const records = cap.records();
    assert.deepEqual(records[0], [Type.STDERR, 3, 5], what);
    assert.deepEqual(records.slice(-2), [[Type.STDOUT, 3, 0], [Type.END_REQUEST, 3, 8]], what);
    assert.deepEqual(cap.bytes(Type.STDOUT), Buffer.concat([headBytes, Buffer.from(body)]), what);
  }
});
