import { test } from "node:test";
import assert from "node:assert/strict";
import {
  concat,
  encodeBeginRequest,
  encodeEndRequest,
  encodePairs,
  encodeRecord,
  encodeUnknownType,
  END_REQUEST_SIZE,
  HEADER_LEN,
  KEEP_CONN,
  MAX_CONTENT,
  ProtocolStatus,
  RoleCode,
  streamSize,
  Type,
  writeEndRequest,
  writeHeader,
  writeStream,
} from "../../core/records.ts";

/** Reads a record header back (what a peer would see). */
function header(b: Uint8Array, at = 0) {
  return {
    version: b[at],
    type: b[at + 1],
    id: (b[at + 2] << 8) | b[at + 3],
    length: (b[at + 4] << 8) | b[at + 5],
    padding: b[at + 6],
    reserved: b[at + 7],
  };
}

test("F17: type codes", () => {
  assert.deepEqual(
    [
      Type.BEGIN_REQUEST,
      Type.ABORT_REQUEST,
      Type.END_REQUEST,
      Type.PARAMS,
      Type.STDIN,
      Type.STDOUT,
      Type.STDERR,
      Type.DATA,
      Type.GET_VALUES,
      Type.GET_VALUES_RESULT,
      Type.UNKNOWN_TYPE,
    ],
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  );
  assert.equal(HEADER_LEN, 8);
  assert.equal(MAX_CONTENT, 65535);
  assert.deepEqual([RoleCode.RESPONDER, RoleCode.AUTHORIZER, RoleCode.FILTER], [1, 2, 3]);
  assert.deepEqual(
    [
      ProtocolStatus.REQUEST_COMPLETE,
      ProtocolStatus.CANT_MPX_CONN,
      ProtocolStatus.OVERLOADED,
      ProtocolStatus.UNKNOWN_ROLE,
    ],
    [0, 1, 2, 3],
  );
  assert.equal(KEEP_CONN, 1);
});

test("F9: writeHeader writes version, type, big-endian id and length, padding, reserved 0", () => {
  const out = new Uint8Array(12).fill(0xee);
  writeHeader(out, 2, Type.STDOUT, 0x1234, 0xabcd, 7);
  assert.deepEqual([...out], [0xee, 0xee, 1, 6, 0x12, 0x34, 0xab, 0xcd, 7, 0, 0xee, 0xee]);
});

test("F9: writeHeader with maximum id and length, default padding 0", () => {
  const out = new Uint8Array(8).fill(0xee);
  writeHeader(out, 0, Type.STDIN, 0xffff, 0xffff);
  assert.deepEqual(header(out), { version: 1, type: 5, id: 0xffff, length: 0xffff, padding: 0, reserved: 0 });
});

test("F9: encodeRecord small content is one record: header then content", () => {
  const content = new Uint8Array([1, 2, 3, 4, 5]);
  const r = encodeRecord(Type.STDOUT, 258, content);
  assert.equal(r.length, HEADER_LEN + 5);
  assert.deepEqual(header(r), { version: 1, type: Type.STDOUT, id: 258, length: 5, padding: 0, reserved: 0 });
  assert.deepEqual([...r.subarray(8)], [1, 2, 3, 4, 5]);
});

test("F15/F34: empty content is encoded as exactly one empty record", () => {
  const r = encodeRecord(Type.STDOUT, 1);
  assert.equal(r.length, HEADER_LEN);
  assert.deepEqual(header(r), { version: 1, type: Type.STDOUT, id: 1, length: 0, padding: 0, reserved: 0 });
  assert.equal(streamSize(0), HEADER_LEN);
  const out = new Uint8Array(10).fill(0xee);
  const end = writeStream(out, 1, Type.STDERR, 3, new Uint8Array(0));
  assert.equal(end, 9);
  assert.deepEqual(header(out, 1), { version: 1, type: Type.STDERR, id: 3, length: 0, padding: 0, reserved: 0 });
  assert.equal(out[9], 0xee);
});

test("F9/F15: writeStream splits content > 65535 bytes into several records, none empty", () => {
  const total = MAX_CONTENT * 2 + 10;
  const content = new Uint8Array(total);
  for (let i = 0; i < total; i++) content[i] = (i * 7) & 0xff;
  assert.equal(streamSize(total), total + 3 * HEADER_LEN);
  const out = new Uint8Array(streamSize(total) + 4);
  const end = writeStream(out, 4, Type.STDOUT, 9, content);
  assert.equal(end, out.length);
  const lengths: number[] = [];
  const pieces: Uint8Array[] = [];
  let at = 4;
  while (at < end) {
    const h = header(out, at);
    assert.equal(h.version, 1);
    assert.equal(h.type, Type.STDOUT);
    assert.equal(h.id, 9);
    assert.equal(h.padding, 0);
    lengths.push(h.length);
    pieces.push(out.subarray(at + 8, at + 8 + h.length));
    at += 8 + h.length;
  }
  assert.deepEqual(lengths, [MAX_CONTENT, MAX_CONTENT, 10]);
  assert.deepEqual(concat(pieces), content);
});

test("F9: content of exactly 65535 bytes is one record; 65536 is two", () => {
  assert.equal(streamSize(MAX_CONTENT), MAX_CONTENT + 8);
  const one = encodeRecord(Type.STDOUT, 1, new Uint8Array(MAX_CONTENT));
  assert.equal(one.length, MAX_CONTENT + 8);
  assert.equal(header(one).length, MAX_CONTENT);
  const two = encodeRecord(Type.STDOUT, 1, new Uint8Array(MAX_CONTENT + 1).fill(5));
  assert.equal(two.length, MAX_CONTENT + 1 + 16);
  assert.equal(header(two).length, MAX_CONTENT);
  assert.equal(header(two, 8 + MAX_CONTENT).length, 1);
  assert.equal(two[two.length - 1], 5);
});

test("F25: END_REQUEST encodes big-endian appStatus, protocolStatus, 3 reserved bytes", () => {
  const r = encodeEndRequest(0x0102, 0x11223344, ProtocolStatus.OVERLOADED);
  assert.equal(r.length, END_REQUEST_SIZE);
  assert.equal(END_REQUEST_SIZE, 16);
  assert.deepEqual(header(r), { version: 1, type: Type.END_REQUEST, id: 0x0102, length: 8, padding: 0, reserved: 0 });
  assert.deepEqual([...r.subarray(8)], [0x11, 0x22, 0x33, 0x44, 2, 0, 0, 0]);
});

test("F25: END_REQUEST appStatus 0xffffffff and writeEndRequest at an offset", () => {
  const out = new Uint8Array(20).fill(0xee);
  const end = writeEndRequest(out, 2, 7, 0xffffffff, ProtocolStatus.REQUEST_COMPLETE);
  assert.equal(end, 18);
  assert.deepEqual([...out.subarray(2, 18)], [1, 3, 0, 7, 0, 8, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  assert.equal(out[18], 0xee);
  assert.equal(out[1], 0xee);
});

test("F24: BEGIN_REQUEST body: role big-endian, flags, 5 reserved", () => {
  const r = encodeBeginRequest(0x0203, RoleCode.FILTER, KEEP_CONN);
  assert.deepEqual(header(r), { version: 1, type: Type.BEGIN_REQUEST, id: 0x0203, length: 8, padding: 0, reserved: 0 });
  assert.deepEqual([...r.subarray(8)], [0, 3, 1, 0, 0, 0, 0, 0]);
  const big = encodeBeginRequest(1, 0x0102, 0);
  assert.deepEqual([...big.subarray(8)], [1, 2, 0, 0, 0, 0, 0, 0]);
});

test("F23: UNKNOWN_TYPE is a management record (id 0) with the type in the first body byte", () => {
  const r = encodeUnknownType(42);
  assert.deepEqual(header(r), { version: 1, type: Type.UNKNOWN_TYPE, id: 0, length: 8, padding: 0, reserved: 0 });
  assert.deepEqual([...r.subarray(8)], [42, 0, 0, 0, 0, 0, 0, 0]);
});

test("F18: encodePairs uses 1-byte lengths up to 127", () => {
  const b = encodePairs([["AB", "xyz"], ["", ""]]);
  assert.deepEqual([...b], [2, 3, 65, 66, 120, 121, 122, 0, 0]);
  const n127 = "n".repeat(127);
  const b2 = encodePairs([[n127, "v"]]);
  assert.equal(b2[0], 127);
  assert.equal(b2[1], 1);
  assert.equal(b2.length, 2 + 127 + 1);
});

test("F18: encodePairs uses 4-byte big-endian lengths with the high bit for lengths > 127", () => {
  const name = "N".repeat(128);
  const value = "v".repeat(0x012345);
  const b = encodePairs([[name, value]]);
  assert.deepEqual([...b.subarray(0, 8)], [0x80, 0, 0, 128, 0x80, 0x01, 0x23, 0x45]);
  assert.equal(b.length, 8 + 128 + 0x012345);
  assert.equal(b[8], 78);
  assert.equal(b[8 + 128], 118);
  // mixed: 1-byte name, 4-byte value
  const c = encodePairs([["K", "x".repeat(200)]]);
  assert.deepEqual([...c.subarray(0, 5)], [1, 0x80, 0, 0, 200]);
  assert.equal(c[5], 75);
});

test("F18/F19: encodePairs encodes strings as UTF-8 (length in bytes) and passes bytes through", () => {
  const b = encodePairs([["é", new Uint8Array([0, 255])]]);
  assert.deepEqual([...b], [2, 2, 0xc3, 0xa9, 0, 255]);
});

test("concat joins chunks and returns a lone chunk as is", () => {
  const a = new Uint8Array([1, 2]);
  assert.equal(concat([a]), a);
  assert.deepEqual([...concat([a, new Uint8Array(0), new Uint8Array([3])])], [1, 2, 3]);
  assert.deepEqual([...concat([])], []);
});
