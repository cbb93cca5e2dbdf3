import { test } from "node:test";
import assert from "node:assert/strict";
import { decodePairs, decodeText, PairDecoder, type PairLimits, PairsLimitError } from "../../core/pairs.ts";
import { concat, encodePairs } from "../../core/records.ts";

const ROOMY: PairLimits = { maxBytes: 1 << 24, maxPairs: 10000, maxLength: 1 << 24 };

function collect(chunks: Uint8Array[], limits: PairLimits = ROOMY): { pairs: [string, string][]; complete: boolean } {
  const pairs: [string, string][] = [];
  const d = new PairDecoder(limits, (n, v) => pairs.push([n, v]));
  for (const c of chunks) d.push(c);
  return { pairs, complete: d.complete };
}

/** A 4-byte length prefix (F18). */
function len4(n: number): number[] {
  return [((n >>> 24) & 0x7f) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

const PAIRS: [string, string][] = [
  ["REQUEST_METHOD", "POST"],
  ["EMPTY", ""],
  ["", ""],
  ["LONG_VALUE", "v".repeat(300)], // 1-byte name, 4-byte value
  ["N".repeat(200), "short"], // 4-byte name, 1-byte value
  ["B".repeat(128), "é".repeat(100)], // both 4-byte; UTF-8 value of 200 bytes
  ["X", "y"],
  ["HTTP_X_UNICODE", "日本語"],
];
const ENCODED = encodePairs(PAIRS);

test("F18: whole buffer decodes all four length combinations (11/14/41/44)", () => {
  const r = collect([ENCODED]);
  assert.deepEqual(r.pairs, PAIRS);
  assert.equal(r.complete, true);
  assert.deepEqual(decodePairs(ENCODED, ROOMY), PAIRS);
});

test("G5/F15: pairs split at EVERY byte boundary (incl. inside 4-byte length prefixes) reassemble", () => {
  for (let k = 0; k <= ENCODED.length; k++) {
    const r = collect([ENCODED.subarray(0, k), ENCODED.subarray(k)]);
    assert.deepEqual(r.pairs, PAIRS, `split at ${k}`);
    assert.equal(r.complete, true, `split at ${k}`);
  }
});

test("G5/F15: pairs fed byte by byte reassemble", () => {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < ENCODED.length; i++) chunks.push(ENCODED.subarray(i, i + 1));
  assert.deepEqual(collect(chunks).pairs, PAIRS);
});

test("G5/F15: pairs split at every pair of boundaries (three pieces) around the 4-byte prefixes", () => {
  // The pair ["N"*200, "short"] starts with a 4-byte name prefix; cut it in every possible way.
  const start = encodePairs(PAIRS.slice(0, 4)).length;
  for (let a = start; a <= start + 6; a++) {
    for (let b = a; b <= start + 9; b++) {
      const r = collect([ENCODED.subarray(0, a), ENCODED.subarray(a, b), ENCODED.subarray(b)]);
      assert.deepEqual(r.pairs, PAIRS, `cuts ${a}, ${b}`);
    }
  }
});

test("F18: a 4-byte encoding of a short length is accepted, in every combination", () => {
  const b = new Uint8Array([
    ...len4(3),
    2,
    ...Buffer.from("abc"),
    ...Buffer.from("xy"), // 41
    1,
    ...len4(2),
    ...Buffer.from("k"),
    ...Buffer.from("vv"), // 14
    ...len4(1),
    ...len4(0),
    ...Buffer.from("z"), // 44, empty value
    ...len4(0),
    ...len4(0), // 44, empty name and value
  ]);
  const expected = [["abc", "xy"], ["k", "vv"], ["z", ""], ["", ""]];
  assert.deepEqual(collect([b]).pairs, expected);
  for (let k = 0; k <= b.length; k++) {
    assert.deepEqual(collect([b.subarray(0, k), b.subarray(k)]).pairs, expected, `split at ${k}`);
  }
});

test("complete: false inside a length prefix, between the two lengths and inside the body", () => {
  const b = encodePairs([["N".repeat(130), "value"]]);
  const d = new PairDecoder(ROOMY, () => {});
  assert.equal(d.complete, true);
  d.push(b.subarray(0, 2)); // inside the 4-byte name length
  assert.equal(d.complete, false);
  d.push(b.subarray(2, 4)); // name length done, no value length yet
  assert.equal(d.complete, false);
  d.push(b.subarray(4, 5)); // value length done, no body
  assert.equal(d.complete, false);
  d.push(b.subarray(5, b.length - 1)); // body but one byte
  assert.equal(d.complete, false);
  d.push(b.subarray(b.length - 1));
  assert.equal(d.complete, true);
});

test("decodePairs throws PairsLimitError on a truncated pair", () => {
  const b = encodePairs([["NAME", "value"]]);
  assert.throws(() => decodePairs(b.subarray(0, b.length - 1), ROOMY), PairsLimitError);
  assert.throws(() => decodePairs(b.subarray(0, 1), ROOMY), PairsLimitError);
  assert.throws(() => decodePairs(new Uint8Array([0x80, 0]), ROOMY), PairsLimitError);
});

test("F20/CVE-2025-23016: a 4-byte length announcing 2^31-1 throws immediately (whole prefix in one piece)", () => {
  const limits = { maxBytes: 65536, maxPairs: 100, maxLength: 4096 };
  const d = new PairDecoder(limits, () => assert.fail("no pair"));
  assert.throws(() => d.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 65])), PairsLimitError);
  // as a value length
  const d2 = new PairDecoder(limits, () => assert.fail("no pair"));
  assert.throws(() => d2.push(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff])), PairsLimitError);
});

test("F20/CVE-2025-23016: 2^31-1 announced byte by byte throws at the 4th prefix byte, before any body", () => {
  const limits = { maxBytes: 65536, maxPairs: 100, maxLength: 4096 };
  const d = new PairDecoder(limits, () => assert.fail("no pair"));
  d.push(new Uint8Array([0xff]));
  d.push(new Uint8Array([0xff]));
  d.push(new Uint8Array([0xff]));
  assert.throws(() => d.push(new Uint8Array([0xff])), PairsLimitError);
  const v = new PairDecoder(limits, () => assert.fail("no pair"));
  v.push(new Uint8Array([1, 0xff, 0xff, 0xff]));
  assert.throws(() => v.push(new Uint8Array([0xff])), PairsLimitError);
});

test("F20: a length above maxBytes throws at the prefix even when maxLength is huge", () => {
  const limits = { maxBytes: 1000, maxPairs: 100, maxLength: 2 ** 31 };
  const d = new PairDecoder(limits, () => assert.fail("no pair"));
  assert.throws(() => d.push(new Uint8Array([...len4(0x7fffffff)])), PairsLimitError);
  const e = new PairDecoder(limits, () => assert.fail("no pair"));
  assert.throws(() => e.push(new Uint8Array([...len4(1001)])), PairsLimitError);
});

test("F20: maxLength is inclusive; one byte more throws before the body arrives", () => {
  const limits = { maxBytes: 100000, maxPairs: 100, maxLength: 200 };
  assert.deepEqual(collect([encodePairs([["n", "v".repeat(200)]])], limits).pairs, [["n", "v".repeat(200)]]);
  const d = new PairDecoder(limits, () => assert.fail("no pair"));
  assert.throws(() => d.push(new Uint8Array([1, ...len4(201)])), PairsLimitError);
  const n = new PairDecoder(limits, () => assert.fail("no pair"));
  assert.throws(() => n.push(new Uint8Array([...len4(201)])), PairsLimitError);
});

test("F20: maxBytes counts the encoded bytes (prefixes included) and throws before decoding the piece", () => {
  const b = encodePairs([["AB", "cd"], ["EF", "gh"]]); // 12 bytes
  assert.equal(b.length, 12);
  assert.deepEqual(collect([b], { maxBytes: 12, maxPairs: 10, maxLength: 10 }).pairs, [["AB", "cd"], ["EF", "gh"]]);
  const seen: string[] = [];
  const d = new PairDecoder({ maxBytes: 11, maxPairs: 10, maxLength: 10 }, (n) => seen.push(n));
  assert.throws(() => d.push(b), PairsLimitError);
  assert.deepEqual(seen, []);
  // across pieces: the running total
  const seen2: string[] = [];
  const d2 = new PairDecoder({ maxBytes: 11, maxPairs: 10, maxLength: 10 }, (n) => seen2.push(n));
  d2.push(b.subarray(0, 6));
  assert.throws(() => d2.push(b.subarray(6)), PairsLimitError);
  assert.deepEqual(seen2, ["AB"]);
});

test("F20: a name + value whose lengths together exceed maxBytes throws at the prefixes, before buffering", () => {
  // Each length alone is within maxLength and maxBytes, but the pair cannot fit in maxBytes.
  const limits = { maxBytes: 1000, maxPairs: 10, maxLength: 800 };
  const d = new PairDecoder(limits, () => assert.fail("no pair"));
  assert.throws(() => d.push(new Uint8Array([...len4(800), ...len4(800)])), PairsLimitError);
});

test("F20: maxPairs: the pair past the limit throws and is never delivered", () => {
  const b = encodePairs([["A", "1"], ["B", "2"], ["C", "3"]]);
  const seen: string[] = [];
  const d = new PairDecoder({ maxBytes: 1000, maxPairs: 2, maxLength: 10 }, (n) => seen.push(n));
  assert.throws(() => d.push(b), (e: unknown) => e instanceof PairsLimitError && e.name === "PairsLimitError");
  assert.deepEqual(seen, ["A", "B"]);
  // byte by byte as well
  const seen2: string[] = [];
  const d2 = new PairDecoder({ maxBytes: 1000, maxPairs: 2, maxLength: 10 }, (n) => seen2.push(n));
  assert.throws(() => {
    for (let i = 0; i < b.length; i++) d2.push(b.subarray(i, i + 1));
  }, PairsLimitError);
  assert.deepEqual(seen2, ["A", "B"]);
  // exactly maxPairs is fine
  assert.equal(
    collect([encodePairs([["A", "1"], ["B", "2"]])], { maxBytes: 1000, maxPairs: 2, maxLength: 10 }).pairs.length,
    2,
  );
});

test("F19: UTF-8 names and values are decoded (short and long, split inside a code point)", () => {
  const pairs: [string, string][] = [["NAMÉ", "ünïcødé"], ["LONG", "€".repeat(40) + "x".repeat(70)]];
  const b = encodePairs(pairs);
  for (let k = 0; k <= b.length; k++) {
    assert.deepEqual(collect([b.subarray(0, k), b.subarray(k)]).pairs, pairs, `split at ${k}`);
  }
});

test("F19: invalid UTF-8 becomes U+FFFD instead of throwing", () => {
  const b = new Uint8Array([1, 3, 0x4e, 0xff, 0x41, 0xe2, 2, 1, 0xc3, 0x41, 0x80]);
  assert.deepEqual(collect([b]).pairs, [["N", "\uFFFDA\uFFFD"], ["\uFFFDA", "\uFFFD"]]);
  // a long value (past the short ASCII fast path)
  const long = new Uint8Array(100).fill(0x61);
  long[50] = 0xfe;
  const enc = encodePairs([["K", long]]);
  assert.deepEqual(collect([enc]).pairs, [["K", "a".repeat(50) + "\uFFFD" + "a".repeat(49)]]);
});

test("decodeText: ASCII, UTF-8 and invalid bytes over a sub-range", () => {
  const b = new Uint8Array([0x7a, 0x61, 0x62, 0xc3, 0xa9, 0xff, 0x7a]);
  assert.equal(decodeText(b, 1, 3), "ab");
  assert.equal(decodeText(b, 1, 5), "abé");
  assert.equal(decodeText(b, 5, 6), "\uFFFD");
  assert.equal(decodeText(b, 2, 2), "");
  const big = new TextEncoder().encode("x".repeat(80) + "ß");
  assert.equal(decodeText(big, 0, big.length), "x".repeat(80) + "ß");
});

test("F15: many pairs across many random pieces", () => {
  const pairs: [string, string][] = [];
  for (let i = 0; i < 200; i++) pairs.push([`HTTP_X_${i}`, "v".repeat((i * 37) % 400)]);
  const b = concat([encodePairs(pairs)]);
  let seed = 7;
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < b.length;) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const len = 1 + (seed % 300);
    chunks.push(b.subarray(at, at + len));
    at += len;
  }
  assert.deepEqual(collect(chunks).pairs, pairs);
});

test("names: remembered ones come back equal, past the table's size too; non-ASCII names decode", () => {
  const list: [string, string][] = [];
  for (let i = 0; i < 3000; i++) list.push([`NAME_${i}`, `v${i}`]);
  list.push(["NAMÉ_✓", "x"], ["REQUEST_METHOD", "GET"], ["REQUEST_METHOD", "POST"]);
  const bytes = encodePairs(list);
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(decodePairs(bytes, { maxBytes: 1 << 20, maxPairs: 10000, maxLength: 1000 }), list);
  }
});

test("pairs at the same position as the last params reuse nothing that differs by a byte", () => {
  const limits = { maxBytes: 1 << 20, maxPairs: 100, maxLength: 1000 };
  // Each round puts a different pair at the same positions: same length, one byte apart, ASCII
  // vs UTF-8 vs invalid bytes (U+FFFD), empty, and values longer than the remembered size.
  const rounds: [string, string][][] = [
    [["REQUEST_METHOD", "GET"], ["HTTP_HOST", "a.example"], ["X", "é"], ["LONG", "v".repeat(200)], ["E", ""]],
    [["REQUEST_METHOD", "PUT"], ["HTTP_HOSU", "b.example"], ["X", "e!"], ["LONG", "v".repeat(199) + "w"], ["E", "x"]],
    [["REQUEST_METHOD", "PUT"], ["HTTP_HOSU", "b.example"], ["X", "é"], ["LONG", "v".repeat(200)], ["E", ""]],
  ];
  for (let i = 0; i < 2; i++) {
    for (const pairs of rounds) assert.deepEqual(decodePairs(encodePairs(pairs), limits), pairs);
  }
  const invalid = concat([encodePairs([["X", "??"]])]);
  invalid.set([0xc3, 0x28], invalid.length - 2); // a broken sequence where "??" was
  assert.deepEqual(decodePairs(invalid, limits), [["X", "\ufffd("]]);
  assert.deepEqual(decodePairs(encodePairs([["X", "\ufffd("]]), limits), [["X", "\ufffd("]]);
  assert.deepEqual(decodePairs(invalid, limits), [["X", "\ufffd("]]);
});

test("push(b, start, end) reads only that range: pairs inside a larger buffer, split at every byte, decode as a whole buffer", () => {
  const junk = new Uint8Array(37).fill(0xff); // a length prefix of 0xff... would be refused
  const framed = concat([junk, ENCODED, junk]);
  const from = junk.length, to = junk.length + ENCODED.length;
  for (let k = from; k <= to; k++) {
    const pairs: [string, string][] = [];
    const d = new PairDecoder({ ...ROOMY, maxBytes: ENCODED.length }, (n, v) => pairs.push([n, v]));
    d.push(framed, from, k);
    d.push(framed, k, to);
    assert.deepEqual(pairs, PAIRS, `split at ${k - from}`);
    assert.equal(d.complete, true);
  }
});

test("PairDecoder hands its context to onPair with every pair, on the reuse path and off it", () => {
  const a: [string, string][] = [];
  const b: [string, string][] = [];
  const onPair = (n: string, v: string, into: [string, string][]) => into.push([n, v]);
  const long = "x".repeat(200); // past the remembered slot size: decoded without reuse
  const bytes = encodePairs([["A", "1"], ["LONG_" + long, long], ["B", ""]]);
  new PairDecoder(ROOMY, onPair, a).push(bytes);
  const split = new PairDecoder(ROOMY, onPair, b);
  for (let i = 0; i < bytes.length; i++) split.push(bytes, i, i + 1); // the byte-at-a-time path
  const want: [string, string][] = [["A", "1"], ["LONG_" + long, long], ["B", ""]];
  assert.deepEqual(a, want);
  assert.deepEqual(b, want);
});
