// The invariants a worker must keep whatever it is sent, checked on the bytes it wrote back:
// well-formed records only (F9, F16), at most one END_REQUEST per BEGIN_REQUEST it was sent and
// nothing for an id after its END_REQUEST (F31, G9), management answers only to management records
// (F21, F23). A valid stream sent in full must moreover get every request answered, each with
// its own answer; in a mutated stream, a request whose records all came before the first changed
// byte must get its own answer if it gets one (what comes after it must not change it).

import { T } from "../lib/fcgi.ts";
import { readPairs, readRecords, type WireRecord } from "../lib/wire.ts";
import type { Case } from "./case.ts";
import { type Answer, answersById, compare } from "./expect.ts";
import type { Req } from "./generate.ts";

const FROM_APP = new Set<number>([T.END, T.STDOUT, T.STDERR, T.GET_VALUES_RESULT, T.UNKNOWN_TYPE]);
const KNOWN_VALUES = new Set(["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"]);

export interface Received {
  bytes: Uint8Array;
  /** The worker closed the connection (EOF or reset), rather than the case timing out. */
  closedByWorker: boolean;
}

/**
 * The records the worker was sent, as far as it can have acted on them: a record counts once its
 * content is in (padding may never come), and reading stops at a bad version (the worker closes there).
 */
function sentRecords(sent: Uint8Array): { type: number; id: number }[] {
  const out: { type: number; id: number }[] = [];
  for (let i = 0; i + 8 <= sent.length && sent[i] === 1;) {
    const length = (sent[i + 4] << 8) | sent[i + 5];
    if (i + 8 + length > sent.length) break;
    out.push({ type: sent[i + 1], id: (sent[i + 2] << 8) | sent[i + 3] });
    i += 8 + length + sent[i + 6];
  }
  return out;
}

/** Returns the broken invariants, each as one line; empty when all hold. */
export function check(c: Case, got: Received): string[] {
  const errors: string[] = [];
  const sent = sentRecords(c.bytes.subarray(0, c.sendUpTo));
  const { records, rest } = readRecords(got.bytes);
  if (got.closedByWorker && rest.length) {
    errors.push(`the worker closed inside a record (${rest.length} bytes left: ${hex(rest)})`);
  }

  const begins = new Map<number, number>();
  for (const r of sent) if (r.type === T.BEGIN && r.id !== 0) begins.set(r.id, (begins.get(r.id) ?? 0) + 1);
  const mgmt = sent.filter((r) => r.id === 0);
  const ends = new Map<number, number>();
  let valuesResults = 0;
  let unknownTypes = 0;

  for (const [i, r] of records.entries()) {
    const where = `record ${i} (type ${r.type}, id ${r.id}, ${r.content.length} bytes)`;
    if (r.version !== 1) errors.push(`${where}: version ${r.version}`);
    if (!FROM_APP.has(r.type)) errors.push(`${where}: a type the application never sends`);
    // Up to the next 8-byte boundary; a STDERR record always has some (8 when aligned: core/output.ts).
    if (r.padding.length > (r.type === T.STDERR ? 8 : 7)) {
      errors.push(`${where}: ${r.padding.length} padding bytes (more than 8-byte alignment needs)`);
    }
    if (r.reserved !== 0) errors.push(`${where}: reserved byte ${r.reserved}`);
    const management = r.type === T.GET_VALUES_RESULT || r.type === T.UNKNOWN_TYPE;
    if (management !== (r.id === 0)) {
      errors.push(`${where}: ${management ? "management record with a request id" : "application record with id 0"}`);
    }
    if (r.type === T.END || r.type === T.STDOUT || r.type === T.STDERR) {
      const done = ends.get(r.id) ?? 0;
      const allowed = begins.get(r.id) ?? 0;
      if (done >= allowed) {
        errors.push(
          allowed === 0
            ? `${where}: for an id never begun`
            : `${where}: after END_REQUEST (${done} END_REQUEST for ${allowed} BEGIN_REQUEST)`,
        );
      }
    }
    if (r.type === T.END) {
      ends.set(r.id, (ends.get(r.id) ?? 0) + 1);
      if (r.content.length !== 8) errors.push(`${where}: END_REQUEST body is not 8 bytes`);
      else if (r.content[4] > 3 || r.content[5] || r.content[6] || r.content[7]) {
        errors.push(`${where}: END_REQUEST body ${hex(r.content)}`);
      }
    }
    if (r.type === T.UNKNOWN_TYPE) {
      unknownTypes++;
      if (r.content.length !== 8 || r.content.subarray(1).some((b) => b !== 0)) {
        errors.push(`${where}: UNKNOWN_TYPE body ${hex(r.content)}`);
      } else if (!mgmt.some((m) => m.type === r.content[0] && m.type !== T.GET_VALUES)) {
        errors.push(`${where}: UNKNOWN_TYPE for type ${r.content[0]}, never sent as a management record`);
      }
    }
    if (r.type === T.GET_VALUES_RESULT) {
      valuesResults++;
      try {
        for (const [name] of readPairs(r.content)) {
          const n = Buffer.from(name).toString("latin1");
          if (!KNOWN_VALUES.has(n)) errors.push(`${where}: GET_VALUES_RESULT names ${JSON.stringify(n)}`);
        }
      } catch (err) {
        errors.push(`${where}: GET_VALUES_RESULT is not name-value pairs: ${(err as Error).message}`);
      }
    }
  }
  const asked = mgmt.filter((m) => m.type === T.GET_VALUES).length;
  if (valuesResults > asked) errors.push(`${valuesResults} GET_VALUES_RESULT for ${asked} GET_VALUES`);
  if (unknownTypes > mgmt.length - asked) {
    errors.push(`${unknownTypes} UNKNOWN_TYPE for ${mgmt.length - asked} other management records`);
  }

  // A valid stream sent in full on a connection held open: every request is answered exactly once.
  if (c.mutations.length === 0 && c.close === "hold" && c.sendUpTo === c.bytes.length) {
    // A response that breaks mid-way closes the connection without END_REQUEST, cutting what follows.
    const mayFail = c.requests.some((q) => q.mayFail);
    for (const req of c.requests) {
      const n = ends.get(req.id) ?? 0;
      const want = c.requests.filter((q) => q.id === req.id).length;
      if (n !== want && !(mayFail && n <= want)) {
        errors.push(`valid stream: ${n} END_REQUEST for id ${req.id} (${want} requests: ${req.route})`);
      }
    }
    if (asked !== valuesResults) {
      errors.push(`valid stream: ${valuesResults} GET_VALUES_RESULT for ${asked} GET_VALUES`);
    }
    // And each with the answer the app gives it (expect.ts).
    compareAnswers(c.requests, records, () => true, "valid stream", errors);
  } else if (c.close !== "reset" && c.intact !== undefined) {
    // A request sent whole before the first changed (or unsent) byte. Unanswered is fine (a later
    // bad record may close the connection first), and so is a different answer for an id that a
    // later record aborts. After a half-close the worker takes the EOF for the web server leaving
    // and aborts what still runs: only a response it completed (appStatus 0) is held to its answer.
    const aborted = new Set(sent.filter((r) => r.type === T.ABORT).map((r) => r.id));
    const bound = Math.min(c.intact, c.sendUpTo);
    const held = (req: Req, got: Answer) =>
      req.end !== undefined && req.end <= bound && !aborted.has(req.id) && (c.close === "hold" || got.appStatus === 0);
    compareAnswers(c.requests, records, held, "intact request before the mutations", errors);
  }
  return [...new Set(errors)];
}

/** Compares each answered request that `checked` picks with its expectation; an id's answers come in its requests' order. */
function compareAnswers(
  requests: Req[],
  records: WireRecord[],
  checked: (req: Req, got: Answer) => boolean,
  label: string,
  errors: string[],
): void {
  const answers = answersById(records);
  const seen = new Map<number, number>();
  for (const req of requests) {
    const nth = seen.get(req.id) ?? 0;
    seen.set(req.id, nth + 1);
    const got = answers.get(req.id)?.[nth];
    if (!req.expect || !got || !checked(req, got)) continue;
    for (const e of compare(req.expect, got)) errors.push(`${label}: id ${req.id} (${req.route}): ${e}`);
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.subarray(0, 32)).toString("hex") + (b.length > 32 ? "…" : "");
}
