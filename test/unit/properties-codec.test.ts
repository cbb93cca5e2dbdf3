// Property tests: every encoder in records.ts read back by an independent reader (test/lib/wire.ts)
// and the pair codec round trip through the core's own decoder, for any input fast-check draws.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodePairs } from "../../core/pairs.ts";
import {
  encodeBeginRequest,
  encodeEndRequest,
  encodePairs,
  encodeRecord,
  encodeUnknownType,
  MAX_CONTENT,
  streamSize,
  Type,
  writeEndRequest,
  writeHeader,
} from "../../core/records.ts";
import { check, edgeLength, fill, scalar } from "../lib/prop.ts";
import { readPairs, readRecords } from "../lib/wire.ts";

const LOOSE = { maxBytes: 2 ** 31, maxPairs: 1e6, maxLength: 2 ** 31 };
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });

test("writeHeader: any type, id, length and padding read back, version 1 and reserved 0, at any offset", () => {
  check(fc.property(u8, u16, u16, u8, fc.nat(16), (type, id, length, padding, offset) => {
    const out = new Uint8Array(offset + 8 + length + padding).fill(0xee);
    writeHeader(out, offset, type, id, length, padding);
    const [r] = readRecords(out.subarray(offset)).records;
    assert.deepEqual([r.version, r.type, r.id, r.content.length, r.padding.length, r.reserved], [
      1,
      type,
      id,
      length,
      padding,
      0,
    ]);
  }));
});

test("encodeRecord: records of at most 65535 bytes, none empty unless the content is, concatenating back", () => {
  check(
    fc.property(u8, fc.integer({ min: 1, max: 0xffff }), edgeLength, fc.nat(), (type, id, length, seed) => {
      const content = fill(length, seed);
      const bytes = encodeRecord(type, id, content);
      assert.equal(bytes.length, streamSize(length));
      const { records, rest } = readRecords(bytes);
      assert.equal(rest.length, 0);
      assert.equal(records.length, Math.max(1, Math.ceil(length / MAX_CONTENT)));
      for (const [i, r] of records.entries()) {
        assert.deepEqual([r.version, r.type, r.id, r.padding.length, r.reserved], [1, type, id, 0, 0]);
        if (i < records.length - 1) assert.equal(r.content.length, MAX_CONTENT);
        else assert.ok(r.content.length > 0 || length === 0);
      }
      assert.deepEqual(Buffer.concat(records.map((r) => r.content)), Buffer.from(content));
    }),
    40,
  ); // contents up to 128 KiB: fewer runs keep it quick
});

test("F24: BEGIN_REQUEST body: role big-endian, flags, five zero bytes", () => {
  check(fc.property(fc.integer({ min: 1, max: 0xffff }), u16, u8, (id, role, flags) => {
    const { records, rest } = readRecords(encodeBeginRequest(id, role, flags));
    assert.equal(rest.length, 0);
    assert.equal(records.length, 1);
    const r = records[0];
    assert.deepEqual([r.type, r.id, r.content.length], [Type.BEGIN_REQUEST, id, 8]);
    assert.deepEqual([(r.content[0] << 8) | r.content[1], r.content[2], ...r.content.subarray(3)], [
      role,
      flags,
      0,
      0,
      0,
      0,
      0,
    ]);
  }));
});

test("F25: END_REQUEST: appStatus (32 bits) and protocolStatus read back; writeEndRequest at any offset agrees", () => {
  check(fc.property(u16, fc.integer({ min: 0, max: 0xffffffff }), u8, fc.nat(16), (id, app, proto, offset) => {
    const bytes = encodeEndRequest(id, app, proto);
    const out = new Uint8Array(offset + bytes.length);
    assert.equal(writeEndRequest(out, offset, id, app, proto), offset + bytes.length);
    assert.deepEqual(out.subarray(offset), bytes);
    const [r] = readRecords(bytes).records;
    const c = r.content;
    assert.deepEqual([r.type, r.id, c.length], [Type.END_REQUEST, id, 8]);
    assert.equal(((c[0] << 24) | (c[1] << 16) | (c[2] << 8) | c[3]) >>> 0, app);
    assert.deepEqual([...c.subarray(4)], [proto, 0, 0, 0]);
  }));
});

test("F23: UNKNOWN_TYPE is one management record naming the type", () => {
  check(fc.property(u8, (t) => {
    const [r] = readRecords(encodeUnknownType(t)).records;
    assert.deepEqual([r.type, r.id, ...r.content], [Type.UNKNOWN_TYPE, 0, t, 0, 0, 0, 0, 0, 0, 0]);
  }));
});

// Byte strings of edge lengths; ASCII so the decoder's strings map one to one onto the bytes.
const asciiBytes = fc.tuple(edgeLength.filter((n) => n < 0x10000), fc.nat()).map(([n, seed]) => fill(n, seed, 0x7f));
const latin = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");

test("F18: encodePairs uses a 1-byte length up to 127 and 4 bytes above; an independent reader gets the bytes back", () => {
  check(
    fc.property(fc.array(fc.tuple(asciiBytes, asciiBytes), { maxLength: 6 }), (list) => {
      const bytes = encodePairs(list);
      const prefix = (n: number) => (n > 127 ? 4 : 1);
      assert.equal(
        bytes.length,
        list.reduce((s, [n, v]) => s + prefix(n.length) + prefix(v.length) + n.length + v.length, 0),
      );
      let i = 0;
      for (const [n, v] of list) {
        assert.equal(bytes[i] >= 0x80, n.length > 127, "name length form");
        i += prefix(n.length);
        assert.equal(bytes[i] >= 0x80, v.length > 127, "value length form");
        i += prefix(v.length) + n.length + v.length;
      }
      assert.deepEqual(
        readPairs(bytes).map(([n, v]) => [latin(n), latin(v)]),
        list.map(([n, v]) => [latin(n), latin(v)]),
      );
      assert.deepEqual(decodePairs(bytes, LOOSE), list.map(([n, v]) => [latin(n), latin(v)]));
    }),
    60,
  );
});

/** Pairs as a front might encode them: each length in 1 or 4 bytes as `long` says (4 bytes is legal for short ones, F18). */
function encodeLoose(list: [Uint8Array, Uint8Array][], long: boolean[]): Uint8Array {
  const parts: number[] = [];
  let k = 0;
  const len = (n: number) => {
    if (n <= 127 && !long[k++ % long.length]) parts.push(n);
    else parts.push((n >>> 24) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  };
  for (const [n, v] of list) {
    len(n.length);
    len(v.length);
    parts.push(...n, ...v);
  }
  return Uint8Array.from(parts);
}

test("F18: every mix of 1- and 4-byte length forms decodes to the same pairs", () => {
  const small = fc.tuple(fc.constantFrom(0, 1, 126, 127, 128, 129), fc.nat()).map(([n, s]) => fill(n, s, 0x7f));
  check(
    fc.property(
      fc.array(fc.tuple(small, small), { maxLength: 5 }),
      fc.array(fc.boolean(), { minLength: 1 }),
      (list, long) => {
        const expected = list.map(([n, v]) => [latin(n), latin(v)]);
        assert.deepEqual(decodePairs(encodeLoose(list, long), LOOSE), expected);
      },
    ),
  );
});

// Names and values of any Unicode text (a leading U+FEFF included: data, not a byte-order mark).
const text = fc.string({ unit: scalar, maxLength: 80 });

test("F19: any Unicode names and values round trip through encodePairs and decodePairs", () => {
  check(fc.property(fc.array(fc.tuple(text, text), { maxLength: 8 }), (list) => {
    assert.deepEqual(decodePairs(encodePairs(list), LOOSE), list);
  }));
});

test("F19: a name or value that starts with U+FEFF keeps it", () => {
  // Bytes of the pair HTTP_X: "\uFEFFé": 06 05 'HTTP_X' EF BB BF C3 A9
  assert.deepEqual(decodePairs(encodePairs([["HTTP_X", "\uFEFF\u00e9"]]), LOOSE), [["HTTP_X", "\uFEFF\u00e9"]]);
});
