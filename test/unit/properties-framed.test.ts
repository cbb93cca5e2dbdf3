// Property tests: a response sent through a framed body (core/framed.ts + Output.endFramed) reads
// back, with an independent record reader (test/lib/wire.ts), as the same STDOUT stream and
// END_REQUEST that the queue path (Output.stdout + end) gives, for any body, head and id.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FramedBody } from "../../core/framed.ts";
import { Output, type Sink } from "../../core/output.ts";
import { byteString } from "../../core/response.ts";
import { MAX_CONTENT, Type } from "../../core/records.ts";
import { check, fill, scalar } from "../lib/prop.ts";
import { readRecords, type WireRecord } from "../lib/wire.ts";

/** Everything written to a sink, and the `sent` callbacks, run at once. */
function sent(run: (sink: Sink) => void): { records: WireRecord[]; writes: number } {
  const chunks: Uint8Array[] = [];
  let writes = 0;
  const sink: Sink = {
    write(chunk, done) {
      writes++;
      chunks.push(chunk.slice());
      done?.();
    },
    writev(list, done) {
      writes++;
      for (const c of list) chunks.push(c.slice());
      done?.();
    },
  };
  run(sink);
  const { records, rest } = readRecords(Buffer.concat(chunks));
  assert.equal(rest.length, 0, "whole records only");
  return { records, writes };
}

function stdout(records: WireRecord[]): Buffer {
  return Buffer.concat(records.filter((r) => r.type === Type.STDOUT).map((r) => r.content));
}

const id = fc.integer({ min: 1, max: 0xffff });
// Heads: usually short (in front of the body), sometimes past the 1 KiB room or with a char past 0xFF.
const head = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.string({ maxLength: 200 }).map((s) =>
      `x-a: ${s.replace(/[^\x20-\x7e]/g, "")}\r\nStatus: 200 OK\r\n\r\n`
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 3000 }).map((n) => `x-long: ${"v".repeat(n)}\r\n\r\n`) },
  { weight: 1, arbitrary: fc.constant("x-wide: \u0101\u20ac\r\n\r\n") },
);
const sizes = fc.oneof(
  fc.constantFrom(4097, MAX_CONTENT - 1, MAX_CONTENT, MAX_CONTENT + 1, 2 * MAX_CONTENT, 256 * 1024),
  fc.integer({ min: 4097, max: 300_000 }),
);

function assertSame(framed: WireRecord[], queued: WireRecord[], rid: number): void {
  assert.deepEqual(stdout(framed), stdout(queued));
  for (const r of framed) {
    assert.equal(r.id, rid);
    assert.ok(r.content.length <= MAX_CONTENT);
    assert.ok(
      r.type !== Type.STDOUT || r.content.length > 0 || r === framed[framed.length - 2],
      "the only empty STDOUT ends the stream",
    );
  }
  assert.deepEqual(framed.slice(-2).map((r) => [r.type, r.content.length]), [[Type.STDOUT, 0], [Type.END_REQUEST, 8]]);
  assert.deepEqual([...framed[framed.length - 1].content], [...queued[queued.length - 1].content]);
}

test("endFramed of a copied body: the same stream as the queue path, one write when the head fits in front", () => {
  check(
    fc.property(id, head, sizes, fc.nat(), (rid, h, n, seed) => {
      const body = fill(n, seed);
      const framed = sent((sink) => new Output(sink, rid).endFramed(h, FramedBody.copy(body)!));
      const queued = sent((sink) => {
        const out = new Output(sink, rid);
        out.stdout(byteString(h));
        out.stdout(body);
        out.endStdout();
        out.end(0);
      });
      assertSame(framed.records, queued.records, rid);
      if (h.length <= 1000 && !/[^\x00-\xff]/.test(h)) assert.equal(framed.writes, 1);
    }),
    60,
  );
});

test("endFramed of encoded text: the same stream as the queue path, for any chars across record ends", () => {
  // Some texts start with ASCII, of any length, so that the ASCII-sized buffer grows anywhere.
  const text = fc.tuple(
    fc.array(scalar, { minLength: 1, maxLength: 40 }),
    fc.integer({ min: 4097, max: 200_000 }),
    fc.oneof(fc.constant(0), fc.nat(200_000)),
  )
    .map(([chars, n, ascii]) => {
      const unit = chars.join("");
      const tail = unit.repeat(Math.ceil(n / unit.length)).slice(0, n).replace(/[\ud800-\udbff]$/, "x"); // no pair cut at the end
      return "a".repeat(ascii) + tail;
    });
  check(
    fc.property(id, head, text, (rid, h, t) => {
      const framed = sent((sink) => new Output(sink, rid).endFramed(h, FramedBody.encode(t)!));
      const queued = sent((sink) => {
        const out = new Output(sink, rid);
        out.stdout(byteString(h));
        out.stdout(new TextEncoder().encode(t));
        out.endStdout();
        out.end(0);
      });
      assertSame(framed.records, queued.records, rid);
    }),
    60,
  );
});
