// Incremental name-value pair decoder (F18) for PARAMS and GET_VALUES content. Pieces may cut a
// pair anywhere, even inside a length prefix (F15, G5: h2o and libfcgi do). Every length is checked
// against the limits before any byte of it is buffered (F20, CVE-2025-23016), so memory stays
// bounded whatever the peer announces.

import { SECRET_PARAMS } from "./cgi.ts";

export interface PairLimits {
  /** Total bytes of the encoded pairs (prefixes included). */
  maxBytes: number;
  /** Number of pairs. */
  maxPairs: number;
  /** Length of one name or one value. */
  maxLength: number;
}

export class PairsLimitError extends Error {
  name = "PairsLimitError";
}

// ignoreBOM: a value may start with U+FEFF; it is data, not a byte-order mark.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Decodes bytes as UTF-8 (invalid sequences become U+FFFD). Up to 12 ASCII bytes are built by
 * hand; past that TextDecoder is faster on every runtime (measured: bench/PROFILE.md).
 */
export function decodeText(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 12) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = b[i];
      if (c > 127) return utf8.decode(b.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(b.subarray(start, end));
}

const State = { NAME_LEN: 0, VALUE_LEN: 1, BODY: 2 } as const;

export class PairDecoder<C = undefined> {
  #limits: PairLimits;
  #onPair: (name: string, value: string, context: C) => void;
  #context: C;
  #total = 0;
  #pairs = 0;
  #state: number = State.NAME_LEN;
  // A length prefix being read across pieces, as a number (a typed array per decoder cost Deno
  // half a microsecond per request: V8 mallocs its backing store).
  #prefixValue = 0;
  #prefixWanted = 0;
  #prefixFill = 0;
  #nameLen = 0;
  #valueLen = 0;
  // Name + value bytes being assembled across pieces.
  #body: Uint8Array | null = null;
  #bodyFill = 0;

  /** `onPair` gets each pair, and `context` with it: a caller can pass one shared function instead of a closure per decoder. */
  constructor(limits: PairLimits, onPair: (name: string, value: string, context: C) => void, context?: C) {
    this.#limits = limits;
    this.#onPair = onPair;
    this.#context = context as C;
  }

  /** True when the bytes so far end on a pair boundary. */
  get complete(): boolean {
    return this.#state === State.NAME_LEN && this.#prefixFill === 0;
  }

  /** Feeds one piece, `b[start, end)` (all of `b` by default); throws PairsLimitError when a limit is passed. */
  push(b: Uint8Array, start: number = 0, end: number = b.length): void {
    this.#total += end - start;
    if (this.#total > this.#limits.maxBytes) {
      throw new PairsLimitError(`params exceed ${this.#limits.maxBytes} bytes`);
    }
    let i = start;
    const n = end;
    let view: DataView | null = null; // of b's buffer, made once per piece (JSC's .buffer getter is a call)
    while (i < n) {
      if (this.#state === State.BODY) {
        const need = this.#nameLen + this.#valueLen - this.#bodyFill;
        const take = Math.min(need, n - i);
        this.#body!.set(b.subarray(i, i + take), this.#bodyFill);
        this.#bodyFill += take;
        i += take;
        if (this.#bodyFill === this.#nameLen + this.#valueLen) {
          const body = this.#body!;
          this.#body = null;
          this.#state = State.NAME_LEN;
          this.#emit(body, 0, viewOf(body.buffer));
        }
        continue;
      }
      // Fast path: a whole pair inside this piece, decoded from a view.
      if (this.#prefixFill === 0 && this.#state === State.NAME_LEN && n - i >= 2) {
        const p = readLength(b, i, n);
        if (p >= 0) {
          const nameLen = this.#check(lengthOf(b, i, p));
          const at = i + p;
          const q = at < n ? readLength(b, at, n) : -1;
          if (q >= 0) {
            const valueLen = this.#checkPair(nameLen, this.#check(lengthOf(b, at, q)));
            const start = at + q;
            if (n - start >= nameLen + valueLen) {
              this.#nameLen = nameLen;
              this.#valueLen = valueLen;
              this.#emit(b, start, view ??= viewOf(b.buffer));
              i = start + nameLen + valueLen;
              continue;
            }
          }
        }
      }
      // Slow path: one byte of a length prefix at a time.
      const byte = b[i++];
      if (this.#prefixFill === 0) {
        this.#prefixWanted = byte & 0x80 ? 4 : 1;
        this.#prefixValue = byte & 0x7f;
      } else {
        this.#prefixValue = this.#prefixValue * 256 + byte;
      }
      if (++this.#prefixFill < this.#prefixWanted) continue;
      this.#prefixFill = 0;
      const length = this.#check(this.#prefixValue);
      if (this.#state === State.NAME_LEN) {
        this.#nameLen = length;
        this.#state = State.VALUE_LEN;
      } else {
        this.#valueLen = this.#checkPair(this.#nameLen, length);
        this.#state = State.BODY;
        this.#body = new Uint8Array(this.#nameLen + length);
        this.#bodyFill = 0;
        if (this.#nameLen + length === 0) {
          this.#state = State.NAME_LEN;
          this.#body = null;
          this.#emit(EMPTY_BODY, 0, slabView);
        }
      }
    }
  }

  #check(length: number): number {
    if (length > this.#limits.maxLength) {
      throw new PairsLimitError(`a param name or value of ${length} bytes exceeds ${this.#limits.maxLength}`);
    }
    // Announced bytes can never exceed what the total limit lets through.
    if (length > this.#limits.maxBytes) throw new PairsLimitError(`params exceed ${this.#limits.maxBytes} bytes`);
    return length;
  }

  /** A pair that can never fit in maxBytes is refused at its prefixes, before its bytes are buffered. */
  #checkPair(nameLen: number, valueLen: number): number {
    if (nameLen + valueLen > this.#limits.maxBytes) {
      throw new PairsLimitError(`params exceed ${this.#limits.maxBytes} bytes`);
    }
    return valueLen;
  }

  #emit(b: Uint8Array, start: number, view: DataView): void {
    if (++this.#pairs > this.#limits.maxPairs) {
      throw new PairsLimitError(`more than ${this.#limits.maxPairs} params`);
    }
    const nameLen = this.#nameLen;
    const valueLen = this.#valueLen;
    const mid = start + nameLen;
    const end = mid + valueLen;
    const at = this.#pairs - 1;
    if (at >= REMEMBERED || nameLen > SLOT_PART) {
      return this.#onPair(internName(b, start, mid), decodeText(b, mid, end), this.#context);
    }
    // The same pair position as in the last params decoded: reuse its strings when the bytes match.
    const from = b.byteOffset + start;
    const slot = at * SLOT;
    let name = lastNames[at];
    if (lastNameLen[at] !== nameLen || !sameBytes(view, from, slot, nameLen)) {
      name = lastNames[at] = internName(b, start, mid);
      slab.set(b.subarray(start, mid), slot);
      lastNameLen[at] = nameLen;
      lastValueLen[at] = -1;
    }
    let value = lastValues[at];
    if (lastValueLen[at] !== valueLen || !sameBytes(view, from + nameLen, slot + SLOT_PART, valueLen)) {
      value = decodeText(b, mid, end);
      const keep = valueLen <= SLOT_PART && !SECRET_PARAMS.has(name);
      lastValues[at] = keep ? value : "";
      lastValueLen[at] = keep ? valueLen : -1;
      if (keep) slab.set(b.subarray(mid, end), slot + SLOT_PART);
    }
    this.#onPair(name, value, this.#context);
  }
}

/**
 * The pairs of the last params decoded, by position. A web server sends the same names, and many
 * of the same values (method, protocol, server, document root, host), in the same order on every
 * request, so comparing with the pair at the same position spares most decoding and allocation.
 * Their bytes are kept in `slab` (names and values up to SLOT_PART bytes, never the value of one
 * of cgi.ts's SECRET_PARAMS) and compared four at a time: faster than comparing a string's char
 * codes with the bytes.
 * Equal bytes decode to equal strings, so a reuse is exact.
 */
const REMEMBERED = 64;
const SLOT_PART = 128;
const SLOT = 2 * SLOT_PART;
const slab = new Uint8Array(REMEMBERED * SLOT);
const slabView = new DataView(slab.buffer);
const lastNames: string[] = new Array<string>(REMEMBERED).fill("");
const lastValues: string[] = new Array<string>(REMEMBERED).fill("");
/** Bytes kept in the slab per position, -1 for none. */
const lastNameLen = new Int32Array(REMEMBERED).fill(-1);
const lastValueLen = new Int32Array(REMEMBERED).fill(-1);

/**
 * A DataView of the whole buffer the params were read into, made once per buffer: a DataView per
 * request cost as much as a subarray. Node reads every connection into one shared buffer (the
 * last view hits); Deno and Bun read each connection into a buffer of its own, hence the WeakMap.
 */
const views = new WeakMap<ArrayBufferLike, DataView>();
let viewed: ArrayBufferLike = slab.buffer;
let lastView: DataView = slabView;
function viewOf(buffer: ArrayBufferLike): DataView {
  if (buffer === viewed) return lastView;
  let view = views.get(buffer);
  if (view === undefined) views.set(buffer, view = new DataView(buffer));
  viewed = buffer;
  return (lastView = view);
}

/** Whether `length` bytes of `view` from `start` equal the slab's from `at`. */
function sameBytes(view: DataView, start: number, at: number, length: number): boolean {
  let i = 0;
  for (; i + 4 <= length; i += 4) if (view.getUint32(start + i) !== slabView.getUint32(at + i)) return false;
  for (; i < length; i++) if (view.getUint8(start + i) !== slab[at + i]) return false;
  return true;
}

/** Param names seen before, by a hash of their bytes: every request repeats the same few dozen. */
const names = new Map<number, string>();
const MAX_NAMES = 1024; // a peer sending random names cannot grow the table past this

/** The name at b[start..end] as a string, the same string each time for a known short ASCII name. */
function internName(b: Uint8Array, start: number, end: number): string {
  if (end - start > 48) return decodeText(b, start, end);
  let h = end - start;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + b[i]) | 0;
  const known = names.get(h);
  if (known !== undefined && known.length === end - start) {
    let same = true;
    for (let i = 0; i < known.length; i++) {
      if (known.charCodeAt(i) !== b[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return known;
  }
  const name = decodeText(b, start, end);
  if (known === undefined && names.size < MAX_NAMES && !/[^\x00-\x7f]/.test(name)) names.set(h, name);
  return name;
}

const EMPTY_BODY = new Uint8Array(0);

/** Size of the length prefix at `i` (1 or 4), or -1 if it is not all inside `b[..n]`. */
function readLength(b: Uint8Array, i: number, n: number): number {
  const size = b[i] & 0x80 ? 4 : 1;
  return i + size <= n ? size : -1;
}

function lengthOf(b: Uint8Array, i: number, size: number): number {
  if (size === 1) return b[i];
  return ((b[i] & 0x7f) * 0x1000000) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
}

/** Decodes a whole buffer of pairs at once (GET_VALUES, tests). */
export function decodePairs(b: Uint8Array, limits: PairLimits): [string, string][] {
  const out: [string, string][] = [];
  const d = new PairDecoder(limits, (name, value) => out.push([name, value]));
  d.push(b);
  if (!d.complete) throw new PairsLimitError("truncated name-value pair");
  return out;
}
