import { test } from "node:test";
import assert from "node:assert/strict";
import { isStreamType, ProtocolError, RecordParser } from "../../core/parser.ts";
import {
  concat,
  encodeBeginRequest,
  encodePairs,
  HEADER_LEN,
  KEEP_CONN,
  RoleCode,
  Type,
  writeHeader,
} from "../../core/records.ts";

/** One record with explicit padding (filled with 0xAA so a parser that does not skip it is caught). */
function record(type: number, id: number, content: Uint8Array | number[], padding = 0): Uint8Array {
  const c = content instanceof Uint8Array ? content : new Uint8Array(content);
  const out = new Uint8Array(HEADER_LEN + c.length + padding).fill(0xaa);
  writeHeader(out, 0, type, id, c.length, padding);
  out.set(c, HEADER_LEN);
  return out;
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

interface Event {
  type: number;
  id: number;
  content: number[];
}

/**
 * Feeds `chunks` and returns the events, with consecutive non-empty stream pieces of the same
 * (type, id) merged (their split is not meaningful, F15). Discrete contents are copied during the
 * call since the parser only guarantees them for the duration of the call.
 */
function run(chunks: Uint8Array[]): { events: Event[]; emptyPieces: number; idleAtEnd: boolean } {
  const events: Event[] = [];
  let emptyPieces = 0;
  let lastWasStreamPiece = false;
  const p = new RecordParser((type, id, bytes, start, end) => {
    const content = bytes.subarray(start, end);
    const stream = id !== 0 && isStreamType(type);
    if (stream && content.length === 0) emptyPieces++;
    const last = events[events.length - 1];
    if (stream && content.length > 0 && lastWasStreamPiece && last.type === type && last.id === id) {
      last.content.push(...content);
    } else {
      events.push({ type, id, content: [...content] });
    }
    lastWasStreamPiece = stream && content.length > 0;
  });
  for (const c of chunks) p.push(c);
  return { events, emptyPieces, idleAtEnd: p.idle };
}

const params = encodePairs([["REQUEST_METHOD", "POST"], ["SCRIPT_NAME", "/x".repeat(100)], ["Q", ""]]);
const stdin1 = bytes(1000, 3);
const stdin2 = bytes(300, 9);
const STREAM = concat([
  encodeBeginRequest(1, RoleCode.RESPONDER, KEEP_CONN),
  record(Type.GET_VALUES, 0, encodePairs([["FCGI_MAX_CONNS", ""]]), 3), // management, padded
  record(Type.PARAMS, 1, params.subarray(0, 10), 6),
  record(Type.PARAMS, 1, params.subarray(10), 1),
  record(Type.PARAMS, 1, [], 5), // empty record with padding
  record(Type.STDIN, 1, stdin1, 0),
  record(Type.STDIN, 1, stdin2, 255),
  record(Type.STDIN, 1, []),
  record(Type.PARAMS, 0, [1, 2, 3, 4, 5], 2), // stream type with id 0: discrete
  record(99, 1, [9, 8, 7], 5), // unknown type: discrete
  record(Type.DATA, 2, [1, 2, 3, 4]),
  record(Type.DATA, 2, []),
  record(Type.STDOUT, 3, [6, 6], 6),
  record(Type.STDERR, 3, [7], 7),
  record(Type.ABORT_REQUEST, 1, []),
  record(Type.END_REQUEST, 1, [0, 0, 0, 1, 0, 0, 0, 0]),
]);

const EXPECTED: Event[] = [
  { type: Type.BEGIN_REQUEST, id: 1, content: [0, 1, 1, 0, 0, 0, 0, 0] },
  { type: Type.GET_VALUES, id: 0, content: [...encodePairs([["FCGI_MAX_CONNS", ""]])] },
  { type: Type.PARAMS, id: 1, content: [...params] },
  { type: Type.PARAMS, id: 1, content: [] },
  { type: Type.STDIN, id: 1, content: [...stdin1, ...stdin2] },
  { type: Type.STDIN, id: 1, content: [] },
  { type: Type.PARAMS, id: 0, content: [1, 2, 3, 4, 5] },
  { type: 99, id: 1, content: [9, 8, 7] },
  { type: Type.DATA, id: 2, content: [1, 2, 3, 4] },
  { type: Type.DATA, id: 2, content: [] },
  { type: Type.STDOUT, id: 3, content: [6, 6] },
  { type: Type.STDERR, id: 3, content: [7] },
  { type: Type.ABORT_REQUEST, id: 1, content: [] },
  { type: Type.END_REQUEST, id: 1, content: [0, 0, 0, 1, 0, 0, 0, 0] },
];

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("F9/F11/F16: a valid multi-record stream fed whole", () => {
  const r = run([STREAM]);
  assert.deepEqual(r.events, EXPECTED);
  assert.equal(r.emptyPieces, 3);
  assert.equal(r.idleAtEnd, true);
});

test("F15: the same stream fed byte by byte parses identically", () => {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1));
  const r = run(chunks);
  assert.deepEqual(r.events, EXPECTED);
  assert.equal(r.emptyPieces, 3);
  assert.equal(r.idleAtEnd, true);
});

test("F15: the same stream split in two at EVERY possible point parses identically", () => {
  for (let k = 0; k <= STREAM.length; k++) {
    const r = run([STREAM.subarray(0, k), STREAM.subarray(k)]);
    assert.deepEqual(r.events, EXPECTED, `split at ${k}`);
    assert.equal(r.emptyPieces, 3, `split at ${k}`);
    assert.equal(r.idleAtEnd, true, `split at ${k}`);
  }
});

test("F15: random multi-chunk splits parse identically", () => {
  const next = rng(12345);
  for (let round = 0; round < 200; round++) {
    const chunks: Uint8Array[] = [];
    let at = 0;
    const maxChunk = 2 + Math.floor(next() * 64);
    while (at < STREAM.length) {
      const len = Math.floor(next() * maxChunk); // 0..maxChunk-1: zero-length chunks included
      chunks.push(STREAM.subarray(at, at + len));
      at += len;
    }
    const r = run(chunks);
    assert.deepEqual(r.events, EXPECTED, `round ${round}`);
    assert.equal(r.emptyPieces, 3, `round ${round}`);
  }
});

test("F15: stream pieces are never empty except for the empty record, and concatenate to the content", () => {
  const content = bytes(5000, 1);
  const stream = concat([record(Type.STDIN, 7, content, 3), record(Type.STDIN, 7, [])]);
  for (const size of [1, 2, 7, 8, 9, 100, 4999, 5016]) {
    const pieces: Uint8Array[] = [];
    const p = new RecordParser((type, id, b, start, end) => {
      assert.equal(type, Type.STDIN);
      assert.equal(id, 7);
      pieces.push(b.slice(start, end));
    });
    for (let i = 0; i < stream.length; i += size) p.push(stream.subarray(i, i + size));
    assert.equal(pieces[pieces.length - 1].length, 0, `size ${size}: last piece is the empty record`);
    assert.ok(pieces.slice(0, -1).every((x) => x.length > 0), `size ${size}: no other empty piece`);
    assert.deepEqual(concat(pieces.slice(0, -1)), content, `size ${size}`);
  }
});

test("F16: every stream type with id != 0 is delivered in pieces; an empty record as a zero-length piece", () => {
  for (const type of [Type.PARAMS, Type.STDIN, Type.DATA, Type.STDOUT, Type.STDERR]) {
    assert.equal(isStreamType(type), true);
    const pieces: Uint8Array[] = [];
    const p = new RecordParser((t, id, b, start, end) => {
      assert.equal(t, type);
      assert.equal(id, 5);
      pieces.push(b.slice(start, end));
    });
    const s = concat([record(type, 5, [1, 2, 3, 4, 5, 6]), record(type, 5, [])]);
    p.push(s.subarray(0, 11)); // header + 3 bytes
    p.push(s.subarray(11));
    assert.deepEqual(pieces.map((x) => [...x]), [[1, 2, 3], [4, 5, 6], []], `type ${type}`);
  }
  for (
    const type of [
      Type.BEGIN_REQUEST,
      Type.ABORT_REQUEST,
      Type.END_REQUEST,
      Type.GET_VALUES,
      Type.GET_VALUES_RESULT,
      Type.UNKNOWN_TYPE,
      0,
      12,
      255,
    ]
  ) {
    assert.equal(isStreamType(type), false, `type ${type}`);
  }
});

test("F16: discrete records are delivered whole even when split across chunks", () => {
  const content = bytes(200, 4);
  const s = concat([
    record(Type.GET_VALUES_RESULT, 1, content, 4),
    record(Type.BEGIN_REQUEST, 2, [0, 1, 0, 0, 0, 0, 0, 0]),
  ]);
  for (let k = 1; k < s.length; k++) {
    const seen: [number, number, number[]][] = [];
    const p = new RecordParser((t, id, b, start, end) => seen.push([t, id, [...b.subarray(start, end)]]));
    p.push(s.subarray(0, k));
    p.push(s.subarray(k));
    assert.deepEqual(seen, [
      [Type.GET_VALUES_RESULT, 1, [...content]],
      [Type.BEGIN_REQUEST, 2, [0, 1, 0, 0, 0, 0, 0, 0]],
    ], `split at ${k}`);
  }
});

test("F14/F22: a stream-type record with id 0 (management) is delivered whole", () => {
  const content = bytes(50, 2);
  const s = record(Type.STDIN, 0, content);
  const seen: number[][] = [];
  const p = new RecordParser((t, id, b, start, end) => {
    assert.equal(t, Type.STDIN);
    assert.equal(id, 0);
    seen.push([...b.subarray(start, end)]);
  });
  for (let i = 0; i < s.length; i++) p.push(s.subarray(i, i + 1));
  assert.deepEqual(seen, [[...content]]);
});

test("F11: padding is skipped, even 255 bytes of it and padding after an empty record", () => {
  const seen: [number, number[]][] = [];
  const p = new RecordParser((t, _id, b, start, end) => seen.push([t, [...b.subarray(start, end)]]));
  p.push(
    concat([
      record(Type.STDOUT, 1, [1], 255),
      record(Type.STDOUT, 1, [], 200),
      record(Type.END_REQUEST, 1, [0, 0, 0, 0, 0, 0, 0, 0], 8),
    ]),
  );
  assert.deepEqual(seen, [[Type.STDOUT, [1]], [Type.STDOUT, []], [Type.END_REQUEST, [0, 0, 0, 0, 0, 0, 0, 0]]]);
  assert.equal(p.idle, true);
});

test("G1/F10: a version other than 1 throws ProtocolError", () => {
  for (const version of [0, 2, 255]) {
    const r = record(Type.BEGIN_REQUEST, 1, [0, 1, 0, 0, 0, 0, 0, 0]);
    r[0] = version;
    const p = new RecordParser(() => assert.fail("no record must be delivered"));
    assert.throws(() => p.push(r), (e: unknown) => e instanceof ProtocolError && e.name === "ProtocolError");
  }
});

test("G1: a bad version in a second record split across chunks throws too", () => {
  const good = record(Type.STDIN, 1, [1, 2]);
  const bad = record(Type.STDIN, 1, [3]);
  bad[0] = 2;
  const s = concat([good, bad]);
  const p = new RecordParser(() => {});
  p.push(s.subarray(0, good.length + 3));
  assert.throws(() => p.push(s.subarray(good.length + 3)), ProtocolError);
});

test("idle: true only between records", () => {
  const p = new RecordParser(() => {});
  assert.equal(p.idle, true);
  const s = concat([record(Type.STDIN, 1, [1, 2, 3], 2), record(Type.BEGIN_REQUEST, 1, [0, 1, 0, 0, 0, 0, 0, 0])]);
  const idleAfter: boolean[] = [];
  for (let i = 0; i < s.length; i++) {
    p.push(s.subarray(i, i + 1));
    idleAfter.push(p.idle);
  }
  // record 1: 8 header + 3 content + 2 padding = 13 bytes; record 2: 16 bytes
  assert.equal(s.length, 29);
  assert.deepEqual(idleAfter, Array.from({ length: 29 }, (_, i) => i === 12 || i === 28));
});

test("idle: an empty record completes immediately once its header is in", () => {
  const p = new RecordParser(() => {});
  const s = record(Type.STDIN, 1, []);
  p.push(s.subarray(0, 7));
  assert.equal(p.idle, false);
  p.push(s.subarray(7));
  assert.equal(p.idle, true);
});

test("content comes as a range of the chunk pushed: a record inside one chunk is neither copied nor viewed", () => {
  const begin = record(Type.BEGIN_REQUEST, 3, [0, 1, KEEP_CONN, 0, 0, 0, 0, 0]);
  const params = record(Type.PARAMS, 3, encodePairs([["A", "b"]]), 5);
  const chunk = concat([begin, params, record(Type.PARAMS, 3, [])]);
  const seen: [number, Uint8Array, number, number][] = [];
  new RecordParser((t, _id, b, start, end) => seen.push([t, b, start, end])).push(chunk);
  assert.deepEqual(seen.map(([t, , s, e]) => [t, s, e]), [
    [Type.BEGIN_REQUEST, HEADER_LEN, HEADER_LEN + 8],
    [Type.PARAMS, begin.length + HEADER_LEN, begin.length + HEADER_LEN + 4],
    [Type.PARAMS, 0, 0],
  ]);
  assert.ok(seen[0][1] === chunk && seen[1][1] === chunk, "the ranges are of the chunk itself");
});
