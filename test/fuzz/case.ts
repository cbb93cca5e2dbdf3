// A fuzz case: the bytes to send, how to cut them into writes, and how the connection ends. It is a
// pure function of one 32-bit seed; failing cases are also saved as JSON (regressions/) so they
// replay even after the generator changes.

import fs from "node:fs";
import path from "node:path";
import { generate, type Req } from "./generate.ts";
import { mutate } from "./mutate.ts";
import { Rng } from "./rng.ts";

export interface Case {
  seed: number;
  /** What made it: the front pattern and the mutators applied (empty: a valid stream). */
  pattern: string;
  mutations: string[];
  bytes: Uint8Array;
  /** Sizes of the writes; bytes past their sum go in one last write. */
  writes: number[];
  /** Pause between writes: 0 = next event-loop turn, else milliseconds. */
  pauseMs: number;
  /**
   * After sending: "hold" keeps the connection open until the worker closes it or goes quiet; "end"
   * half-closes (EOF); "reset" destroys the socket. `sendUpTo` stops sending early, mid-record maybe.
   */
  close: "hold" | "end" | "reset";
  sendUpTo: number;
  /** Byte offsets where sending waits for one more END_REQUEST (id reuse on a kept connection), up to a second. */
  waits: number[];
  requests: Req[];
  /** How many leading bytes are those of the unmutated stream (absent in cases saved before). */
  intact?: number;
}

export function makeCase(seed: number): Case {
  const rng = new Rng(seed);
  const g = generate(rng);
  // About one case in eight stays valid: those must be answered in full, which checks the generator too.
  const count = rng.chance(0.12) ? 0 : 1 + Math.min(5, Math.floor(-Math.log(1 - rng.next()) * 1.2));
  const { bytes, applied } = mutate(g.records, count, rng);
  const original = Buffer.concat(g.records);
  let intact = 0;
  while (intact < bytes.length && intact < original.length && bytes[intact] === original[intact]) intact++;
  const writes: number[] = [];
  const style = rng.int(4);
  if (style === 1) {
    for (let n = rng.range(1, 20), i = 0; i < n; i++) writes.push(1 + rng.int(Math.max(1, bytes.length / 4)));
  }
  if (style === 2) { for (let i = 0; i < 64; i++) writes.push(rng.range(1, 9)); // header bytes split across reads
   }
  if (style === 3) { for (let i = 0; i < 200; i++) writes.push(1); }
  const close = count === 0 ? "hold" : rng.pick(["hold", "hold", "hold", "end", "reset"] as const);
  const early = count > 0 && rng.chance(0.2);
  return {
    seed,
    pattern: g.pattern,
    mutations: applied,
    bytes,
    writes,
    pauseMs: rng.chance(0.15) ? 1 : 0,
    close: early ? rng.pick(["end", "reset"] as const) : close,
    sendUpTo: early ? rng.int(bytes.length + 1) : bytes.length,
    // Offsets are only known for an unmutated stream; a mutated one reusing ids early is a case too.
    waits: count === 0 ? g.waits.map((i) => g.records.slice(0, i).reduce((n, r) => n + r.length, 0)) : [],
    requests: g.requests,
    intact,
  };
}

/** A case as JSON (bytes in base64), for test/fuzz/regressions/. */
export function toJson(c: Case, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, ...c, bytes: Buffer.from(c.bytes).toString("base64") }, null, 2) + "\n";
}

export function fromJson(text: string): Case {
  const o = JSON.parse(text);
  return { ...o, bytes: new Uint8Array(Buffer.from(o.bytes, "base64")) };
}

export const REGRESSIONS: string = path.join(import.meta.dirname, "regressions");

/** Saves a failing case as test/fuzz/regressions/RUNTIME-SEED.json; returns the path. */
export function saveRegression(c: Case, runtime: string, errors: string[]): string {
  fs.mkdirSync(REGRESSIONS, { recursive: true });
  const file = path.join(REGRESSIONS, `${runtime}-${c.seed}.json`);
  fs.writeFileSync(file, toJson(c, { found: { runtime, date: new Date().toISOString().slice(0, 10), errors } }));
  return file;
}
