// FastCGI 1.0 wire format: constants, the 8-byte record header, record encoding and the
// name-value pair codec. Pure functions over Uint8Array; no state, no I/O.

export const VERSION_1 = 1;
export const HEADER_LEN = 8;
export const MAX_CONTENT = 0xffff;

export const Type = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

/** The roles' codes in BEGIN_REQUEST (the public `Role` type is their names). */
export const RoleCode = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;

export const ProtocolStatus = {
  REQUEST_COMPLETE: 0,
  CANT_MPX_CONN: 1,
  OVERLOADED: 2,
  UNKNOWN_ROLE: 3,
} as const;

export const KEEP_CONN = 1;

/** Writes one record header at `offset` of `out`. */
export function writeHeader(
  out: Uint8Array,
  offset: number,
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength = 0,
): void {
  out[offset] = VERSION_1;
  out[offset + 1] = type;
  out[offset + 2] = requestId >>> 8;
  out[offset + 3] = requestId & 0xff;
  out[offset + 4] = contentLength >>> 8;
  out[offset + 5] = contentLength & 0xff;
  out[offset + 6] = paddingLength;
  out[offset + 7] = 0;
}

/** Size of `length` content bytes once split into records of at most 65535 bytes (0 → one empty record). */
export function streamSize(length: number): number {
  if (length === 0) return HEADER_LEN;
  return length + Math.ceil(length / MAX_CONTENT) * HEADER_LEN;
}

/**
 * Encodes `content` as one or more records of `type` into `out` at `offset` (never an empty record
 * unless content is empty). Returns the offset after the last byte written. `out` must have
 * `streamSize(content.length)` bytes free.
 */
export function writeStream(
  out: Uint8Array,
  offset: number,
  type: number,
  requestId: number,
  content: Uint8Array,
): number {
  if (content.length === 0) {
    writeHeader(out, offset, type, requestId, 0);
    return offset + HEADER_LEN;
  }
  for (let start = 0; start < content.length; start += MAX_CONTENT) {
    const piece = content.subarray(start, start + MAX_CONTENT);
    writeHeader(out, offset, type, requestId, piece.length);
    out.set(piece, offset + HEADER_LEN);
    offset += HEADER_LEN + piece.length;
  }
  return offset;
}

/** One record (or several, past 65535 bytes) as a fresh buffer. */
export function encodeRecord(type: number, requestId: number, content: Uint8Array = EMPTY): Uint8Array {
  const out = new Uint8Array(streamSize(content.length));
  writeStream(out, 0, type, requestId, content);
  return out;
}

export const EMPTY: Uint8Array = new Uint8Array(0);

export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Uint8Array {
  const out = new Uint8Array(HEADER_LEN + 8);
  writeEndRequest(out, 0, requestId, appStatus, protocolStatus);
  return out;
}

export const END_REQUEST_SIZE: number = HEADER_LEN + 8;

export function writeEndRequest(
  out: Uint8Array,
  offset: number,
  requestId: number,
  appStatus: number,
  protocolStatus: number,
): number {
  writeHeader(out, offset, Type.END_REQUEST, requestId, 8);
  const b = offset + HEADER_LEN;
  out[b] = appStatus >>> 24;
  out[b + 1] = (appStatus >>> 16) & 0xff;
  out[b + 2] = (appStatus >>> 8) & 0xff;
  out[b + 3] = appStatus & 0xff;
  out[b + 4] = protocolStatus;
  out[b + 5] = out[b + 6] = out[b + 7] = 0;
  return offset + END_REQUEST_SIZE;
}

/** BEGIN_REQUEST body: role (2 bytes), flags, 5 reserved. */
export function encodeBeginRequest(requestId: number, role: number, flags: number): Uint8Array {
  const body = new Uint8Array(8);
  body[0] = role >>> 8;
  body[1] = role & 0xff;
  body[2] = flags;
  return encodeRecord(Type.BEGIN_REQUEST, requestId, body);
}

export function encodeUnknownType(type: number): Uint8Array {
  const body = new Uint8Array(8);
  body[0] = type;
  return encodeRecord(Type.UNKNOWN_TYPE, 0, body);
}

const utf8 = new TextEncoder();

function lengthSize(n: number): number {
  return n > 127 ? 4 : 1;
}

function writeLength(out: Uint8Array, offset: number, n: number): number {
  if (n <= 127) {
    out[offset] = n;
    return offset + 1;
  }
  out[offset] = (n >>> 24) | 0x80;
  out[offset + 1] = (n >>> 16) & 0xff;
  out[offset + 2] = (n >>> 8) & 0xff;
  out[offset + 3] = n & 0xff;
  return offset + 4;
}

/** Encodes name-value pairs (F18) as one byte string; strings are UTF-8. */
export function encodePairs(pairs: Iterable<readonly [string | Uint8Array, string | Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const [name, value] of pairs) {
    const n = typeof name === "string" ? utf8.encode(name) : name;
    const v = typeof value === "string" ? utf8.encode(value) : value;
    parts.push(n, v);
    size += lengthSize(n.length) + lengthSize(v.length) + n.length + v.length;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (let i = 0; i < parts.length; i += 2) {
    offset = writeLength(out, offset, parts[i].length);
    offset = writeLength(out, offset, parts[i + 1].length);
    out.set(parts[i], offset);
    offset += parts[i].length;
    out.set(parts[i + 1], offset);
    offset += parts[i + 1].length;
  }
  return out;
}

/** Concatenates chunks into one buffer (a single chunk is returned as is). */
export function concat(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total ?? chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
