// FramedBody: a large body copied or encoded straight into STDOUT records (id 0 until sent), with
// room in front for the head's record and behind for the end of the response.

import assert from "node:assert/strict";
import { test } from "node:test";
import { FramedBody, HEAD_ROOM, TAIL_ROOM } from "../../core/framed.ts";
import { lend } from "../../core/pool.ts";
import { MAX_CONTENT, Type } from "../../core/records.ts";

/** The records between HEAD_ROOM and `end`, checked to be well-formed STDOUT records of id 0. */
function records(f: FramedBody): number[] {
  const b = f.buffer;
  const lengths: number[] = [];
  let o = HEAD_ROOM;
  while (o < f.end) {
    assert.deepEqual(
      [b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 6]],
      [1, Type.STDOUT, 0, 0, 0],
      `record header at ${o}`,
    );
    const n = (b[o + 4] << 8) | b[o + 5];
    assert.ok(n > 0, "no empty record inside a body");
    lengths.push(n);
    o += 8 + n;
  }
  assert.equal(o, f.end);
  assert.ok(f.buffer.length - f.end >= TAIL_ROOM, "room for the empty STDOUT and END_REQUEST");
  return lengths;
}

test("FramedBody.copy: full records of 65535 bytes and the rest; pieces and bytes give the body back", () => {
  for (const n of [4097, 65535, 65536, 256 * 1024, 1_000_003]) {
    const body = new Uint8Array(n).map((_, i) => (i * 7) % 256);
    const f = FramedBody.copy(body)!;
    const lengths = records(f);
    assert.equal(lengths.length, Math.ceil(n / MAX_CONTENT), `${n}`);
    assert.ok(lengths.slice(0, -1).every((l) => l === MAX_CONTENT), `${n}: full records but the last`);
    assert.equal(f.length, n);
    assert.deepEqual(Buffer.concat(f.pieces()), Buffer.from(body));
    assert.deepEqual(f.bytes(), body);
    body.fill(0);
    assert.notDeepEqual(f.bytes(), body, "a copy: the app's later writes do not reach it");
    f.release();
  }
  assert.ok(
    FramedBody.copy(new Uint8Array(256 * 1024))!.buffer.buffer.byteLength <= 384 * 1024,
    "a 256 KiB body does not take a 512 KiB buffer",
  );
});

test("FramedBody.copy and encode: a body for one slab cut, or too large for the pool, is not framed", () => {
  assert.equal(FramedBody.copy(new Uint8Array(4096)), null);
  assert.equal(FramedBody.copy(new Uint8Array(4 * 1024 * 1024)), null);
  assert.equal(FramedBody.encode("a".repeat(4096)), null);
  assert.equal(FramedBody.encode("a".repeat(4 * 1024 * 1024)), null);
});

test("FramedBody.encode: UTF-8 as TextEncoder gives it, no char split across records, each record at most 65535 bytes", () => {
  const utf8 = new TextEncoder();
  const texts = [
    "a".repeat(5000),
    "a".repeat(200000),
    "é".repeat(70000), // 2-byte chars; the ASCII-sized buffer is too small
    "x".repeat(65534) + "€" + "y".repeat(9000), // a 3-byte char across the first record's end
    "z".repeat(65533) + "😀".repeat(3000), // a surrogate pair there
    "lone \ud800 surrogate " + "q".repeat(70000),
    "a".repeat(199999) + "©", // ASCII until the last char: the buffer grows at the very end
    "b".repeat(131066) + "😀".repeat(40000), // 4-byte chars when the ASCII-sized buffer runs out
  ];
  for (const text of texts) {
    const f = FramedBody.encode(text)!;
    const lengths = records(f);
    assert.ok(lengths.every((l) => l <= MAX_CONTENT));
    const want = utf8.encode(text);
    assert.equal(f.length, want.length);
    assert.deepEqual(f.bytes(), want);
    // Each record decodes on its own: no char was split.
    for (const piece of f.pieces()) {
      assert.doesNotThrow(() => new TextDecoder("utf-8", { fatal: true }).decode(piece.slice()));
    }
    f.release();
  }
});

test("FramedBody.release gives the buffer back to the pool", () => {
  const f = FramedBody.copy(new Uint8Array(10000))!;
  const size = f.buffer.length;
  f.release();
  assert.equal(lend(size)!.buffer, f.buffer.buffer);
});
