// Property tests for F15: how bytes are cut into chunks, or a stream into records, must never change
// what the parser and the pair decoder deliver, nor whether a limit trips. Each property compares a
// random split against the same bytes in one piece, and against a model where one exists.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodePairs, PairDecoder, type PairLimits, PairsLimitError } from "../../core/pairs.ts";
import { isStreamType, ProtocolError, RecordParser } from "../../core/parser.ts";
import { encodePairs } from "../../core/records.ts";
import { check, fill, split, splits } from "../lib/prop.ts";

interface Event {
  type: number;
  id: number;
  content: Buffer;
}

/** Parses `chunks`; consecutive stream pieces of one (type, id) are merged, as their split means nothing. */
function parse(chunks: Uint8Array[]): { events: Event[]; error: string | null; idle: boolean } {
  const events: { type: number; id: number; pieces: Uint8Array[] }[] = [];
  let merge = false;
  const p = new RecordParser((type, id, bytes, start, end) => {
    const content = bytes.subarray(start, end);
    const stream = id !== 0 && isStreamType(type);
    assert.ok(content.length <= 0xffff, "a piece never exceeds a record");
    const last = events.at(-1);
    const copy = content.slice(); // discrete content is only valid during the call
    if (stream && content.length > 0 && merge && last!.type === type && last!.id === id) last!.pieces.push(copy);
    else events.push({ type, id, pieces: [copy] });
    merge = stream && content.length > 0;
  });
  let error: string | null = null;
  try {
    for (const c of chunks) p.push(c);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    error = err.message;
  }
  return {
    events: events.map(({ type, id, pieces }) => ({ type, id, content: Buffer.concat(pieces) })),
    error,
    idle: p.idle,
  };
}

function rec(version: number, type: number, id: number, content: Uint8Array, padding: number): Uint8Array {
  const out = new Uint8Array(8 + content.length + padding).fill(0xaa); // padding a parser must skip, not read
  out.set([version, type, id >> 8, id & 0xff, content.length >> 8, content.length & 0xff, padding, 0]);
  out.set(content, 8);
  return out;
}

// One record as a front (or a broken front) might send it: mostly version 1 and the usual types and
// ids, sometimes anything; contents mostly small, sometimes the 65535 maximum.
const anyRecord = fc.record({
  version: fc.oneof({ weight: 12, arbitrary: fc.constant(1) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 255 }),
  }),
  type: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 11 }) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 255 }),
  }),
  id: fc.oneof(fc.constantFrom(0, 1, 2, 0xffff), fc.integer({ min: 0, max: 0xffff })),
  length: fc.oneof({ weight: 8, arbitrary: fc.nat(200) }, { weight: 1, arbitrary: fc.constantFrom(0xfff8, 0xffff) }),
  seed: fc.nat(),
  padding: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
}).map((r) => rec(r.version, r.type, r.id, fill(r.length, r.seed), r.padding));

const recordStream = fc.array(anyRecord, { maxLength: 12 }).map((rs) => Buffer.concat(rs));

test("F15: a record stream parses the same whatever its chunking (including bad versions and a cut-off tail)", () => {
  check(
    fc.property(recordStream, fc.option(fc.nat()), splits, (bytes, cut, cuts) => {
      const b = new Uint8Array(cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1)));
      const whole = parse([b]);
      const pieces = parse(split(b, cuts));
      assert.deepEqual(pieces, whole);
    }),
    100,
  );
});

test("F15: a record stream with random bytes overwritten parses the same whatever its chunking", () => {
  const writes = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });
  check(fc.property(recordStream, writes, splits, (bytes, w, cuts) => {
    const b = new Uint8Array(bytes);
    for (const [at, v] of w) if (b.length) b[at % b.length] = v;
    assert.deepEqual(parse(split(b, cuts)), parse([b]));
  }));
});

test("F11/F15: a valid stream yields each record's content exactly, padding skipped, idle at the end", () => {
  const valid = fc.array(
    fc.record({
      type: fc.integer({ min: 1, max: 11 }),
      id: fc.integer({ min: 1, max: 3 }),
      length: fc.nat(300),
      seed: fc.nat(),
      padding: fc.nat(255),
    }),
    { maxLength: 10 },
  );
  check(fc.property(valid, splits, (list, cuts) => {
    const bytes = Buffer.concat(list.map((r) => rec(1, r.type, r.id, fill(r.length, r.seed), r.padding)));
    const got = parse(split(bytes, cuts));
    // Model: one event per record, except that consecutive stream records of one (type, id) merge.
    const want: Event[] = [];
    let merge = false;
    for (const r of list) {
      const content = Buffer.from(fill(r.length, r.seed));
      const stream = isStreamType(r.type);
      const last = want.at(-1);
      if (stream && content.length > 0 && merge && last!.type === r.type && last!.id === r.id) {
        last!.content = Buffer.concat([last!.content, content]);
      } else want.push({ type: r.type, id: r.id, content });
      merge = stream && content.length > 0;
    }
    assert.deepEqual(got, { events: want, error: null, idle: true });
  }));
});

type Outcome = { pairs: [string, string][]; complete: boolean } | { error: true; before: [string, string][] };

function decode(pieces: Uint8Array[], limits: PairLimits): Outcome {
  const pairs: [string, string][] = [];
  const d = new PairDecoder(limits, (n, v) => pairs.push([n, v]));
  try {
    for (const p of pieces) d.push(p);
  } catch (err) {
    if (!(err instanceof PairsLimitError)) throw err; // a RangeError here would mean an unbounded allocation
    return { error: true, before: pairs };
  }
  return { pairs, complete: d.complete };
}

const LOOSE = { maxBytes: 2 ** 31, maxPairs: 1e6, maxLength: 2 ** 31 };
const bytesOf = fc.tuple(fc.oneof(fc.constant(0), fc.nat(20), fc.constantFrom(126, 127, 128, 129, 300)), fc.nat()).map((
  [n, s],
) => fill(n, s));
const pairList = fc.array(fc.tuple(bytesOf, bytesOf), { maxLength: 8 });

test("F15/G5: PairDecoder fed any split of valid pairs gives the pairs of decodePairs, complete at the end", () => {
  check(fc.property(pairList, splits, (list, cuts) => {
    const bytes = encodePairs(list);
    assert.deepEqual(decode(split(bytes, cuts), LOOSE), { pairs: decodePairs(bytes, LOOSE), complete: true });
  }));
});

test("F15: a pair stream cut short is incomplete whatever the split, and gives the same pairs before the cut", () => {
  check(fc.property(pairList, fc.nat(), splits, (list, cut, cuts) => {
    const all = encodePairs(list);
    const bytes = all.subarray(0, cut % (all.length + 1));
    assert.deepEqual(decode(split(bytes, cuts), LOOSE), decode([bytes], LOOSE));
  }));
});

/** Model of the limits (F20): which pair, if any, trips one. */
function modelTrips(list: [Uint8Array, Uint8Array][], l: PairLimits): boolean {
  const size = (n: number) => (n > 127 ? 4 : 1);
  const total = list.reduce((s, [n, v]) => s + size(n.length) + size(v.length) + n.length + v.length, 0);
  return total > l.maxBytes || list.length > l.maxPairs ||
    list.some(([n, v]) => n.length > l.maxLength || v.length > l.maxLength);
}

/** Limits drawn around what `list` needs, so off-by-one errors at each limit are hit, or anywhere. */
function limitsFor(list: [Uint8Array, Uint8Array][]): fc.Arbitrary<PairLimits> {
  const near = (x: number, anywhere: number) =>
    fc.oneof(fc.integer({ min: Math.max(0, x - 1), max: x + 1 }), fc.nat(anywhere));
  const bytes = encodePairs(list).length;
  const longest = Math.max(0, ...list.flat().map((b) => b.length));
  return fc.record({ maxBytes: near(bytes, 1500), maxPairs: near(list.length, 10), maxLength: near(longest, 320) });
}

const listAndLimits = pairList.chain((list) => fc.tuple(fc.constant(list), limitsFor(list)));

test("F20: limits trip exactly when the model says, whatever the split; pairs before the trip are within limits", () => {
  check(fc.property(listAndLimits, splits, ([list, l], cuts) => {
    const bytes = encodePairs(list);
    const whole = decode([bytes], l);
    const pieces = decode(split(bytes, cuts), l);
    assert.equal("error" in whole, modelTrips(list, l), "one piece follows the model");
    assert.equal("error" in pieces, "error" in whole, "the split does not change whether a limit trips");
    const delivered = "error" in pieces ? pieces.before : pieces.pairs;
    assert.ok(delivered.length <= l.maxPairs);
    for (const [n, v] of delivered) assert.ok(n.length <= l.maxLength && v.length <= l.maxLength);
  }));
});

test("F20/CVE-2025-23016: a 4-byte length past the limits (up to 2^31-1) throws PairsLimitError at its prefix, whatever the split", () => {
  const huge = fc.oneof(
    fc.constantFrom(2 ** 31 - 1, 2 ** 31 - 2, 2 ** 30, 0x10000, 0x1000),
    fc.integer({ min: 0x1000, max: 2 ** 31 - 1 }),
  );
  check(fc.property(pairList, huge, fc.boolean(), splits, (before, length, asValue, cuts) => {
    const prefix = Uint8Array.of((length >>> 24) | 0x80, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
    const hostile = asValue ? Uint8Array.of(1, ...prefix, 0x41) : Uint8Array.of(...prefix, 1, 0x41);
    const bytes = Buffer.concat([encodePairs(before), hostile, fill(64, length)]); // a little of the announced body
    const l = { maxBytes: 0xfff, maxPairs: 100, maxLength: 0xfff };
    const got = decode(split(bytes, cuts), l);
    assert.ok("error" in got, "refused");
    assert.ok(got.before.length <= before.length, "the hostile pair itself is never delivered");
  }));
});

test("F20: a pair whose name and value lengths together pass maxBytes is refused at its prefixes, before any body byte", () => {
  const len = fc.integer({ min: 0, max: 0x1000 });
  check(fc.property(len, len, splits, (a, b, cuts) => {
    fc.pre(a + b > 0x1000);
    const prefixes = lengthPrefixes(a, b);
    const got = decode(split(prefixes, cuts), { maxBytes: 0x1000, maxPairs: 100, maxLength: 0x1000 });
    assert.ok("error" in got, "refused with no body sent");
  }));
});

/** Just the two 4-byte length prefixes of a pair. */
function lengthPrefixes(a: number, b: number): Uint8Array {
  return Uint8Array.of(0x80, 0, a >> 8, a & 0xff, 0x80, 0, b >> 8, b & 0xff);
}
