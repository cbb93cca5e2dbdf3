// A raw FastCGI peer for tests: builds records by hand and parses what the worker sends back. It
// does not use the core's parser, so the tests do not trust what they test.

import net from "node:net";

export const T = {
  BEGIN: 1,
  ABORT: 2,
  END: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function record(
  type: number,
  id: number,
  content: Uint8Array | string = new Uint8Array(0),
  padding = 0,
  version = 1,
): Uint8Array {
  const c = typeof content === "string" ? enc.encode(content) : content;
  if (c.length > 0xffff) throw new Error("record too long");
  const out = new Uint8Array(8 + c.length + padding);
  out[0] = version;
  out[1] = type;
  out[2] = id >> 8;
  out[3] = id & 0xff;
  out[4] = c.length >> 8;
  out[5] = c.length & 0xff;
  out[6] = padding;
  out.set(c, 8);
  return out;
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function len(n: number, long = false): Uint8Array {
  if (n <= 127 && !long) return Uint8Array.of(n);
  return Uint8Array.of(((n >>> 24) & 0x7f) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export function pairs(list: [string, string][] | Record<string, string>, long = false): Uint8Array {
  const entries = Array.isArray(list) ? list : Object.entries(list);
  return cat(...entries.flatMap(([n, v]) => {
    const nb = enc.encode(n);
    const vb = enc.encode(v);
    return [len(nb.length, long), len(vb.length, long), nb, vb];
  }));
}

export function begin(id: number, role = 1, keepConn = false): Uint8Array {
  return record(T.BEGIN, id, Uint8Array.of(role >> 8, role & 0xff, keepConn ? 1 : 0, 0, 0, 0, 0, 0));
}

/** Content split into records of at most `size` bytes, then the empty end record. */
export function stream(type: number, id: number, content: Uint8Array | string = "", size = 0xffff): Uint8Array {
  const c = typeof content === "string" ? enc.encode(content) : content;
  const recs: Uint8Array[] = [];
  for (let i = 0; i < c.length; i += size) recs.push(record(type, id, c.subarray(i, i + size)));
  recs.push(record(type, id));
  return cat(...recs);
}

export function baseParams(method: string, uri: string, extra: Record<string, string> = {}): Record<string, string> {
  const [path, query = ""] = uri.split("?");
  return {
    GATEWAY_INTERFACE: "CGI/1.1",
    REQUEST_METHOD: method,
    REQUEST_URI: uri,
    SCRIPT_NAME: path,
    QUERY_STRING: query,
    SERVER_NAME: "example.test",
    SERVER_PORT: "8080",
    SERVER_PROTOCOL: "HTTP/1.1",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_PORT: "5555",
    HTTP_HOST: "example.test:8080",
    ...extra,
  };
}

/** A whole request: BEGIN, PARAMS, STDIN. */
export function requestBytes(
  id: number,
  method: string,
  uri: string,
  opts: { params?: Record<string, string>; body?: string | Uint8Array; keepConn?: boolean; role?: number } = {},
): Uint8Array {
  const body = opts.body ?? "";
  const p = baseParams(method, uri, opts.params);
  if (body.length && !("CONTENT_LENGTH" in p)) {
    p.CONTENT_LENGTH = String(typeof body === "string" ? enc.encode(body).length : body.length);
  }
  return cat(
    begin(id, opts.role ?? 1, opts.keepConn ?? false),
    stream(T.PARAMS, id, pairs(p)),
    stream(T.STDIN, id, body),
  );
}

export interface Rec {
  type: number;
  id: number;
  content: Uint8Array;
}

export interface Ended {
  stdout: Uint8Array;
  stderr: string;
  appStatus: number;
  protocolStatus: number;
  records: Rec[];
}

export class RawConn {
  readonly socket: net.Socket;
  records: Rec[] = [];
  closed = false;
  #buf: Uint8Array = new Uint8Array(0);
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#buf = cat(this.#buf, chunk);
      while (this.#buf.length >= 8) {
        const b = this.#buf;
        const length = (b[4] << 8) | b[5];
        const total = 8 + length + b[6];
        if (b.length < total) break;
        if (b[0] !== 1) throw new Error(`worker sent version ${b[0]}`);
        this.records.push({ type: b[1], id: (b[2] << 8) | b[3], content: b.slice(8, 8 + length) });
        this.#buf = b.slice(total);
      }
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  static connect(address: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const opts = address.startsWith("unix:") ? { path: address.slice(5) } : (() => {
        const m = /^tcp:(?:\[(.+)\]|(.+)):(\d+)$/.exec(address);
        if (!m) throw new Error(`bad address ${address}`);
        return { host: m[1] ?? m[2], port: Number(m[3]) };
      })();
      const s = net.connect(opts as net.NetConnectOpts);
      s.once("connect", () => resolve(new RawConn(s)));
      s.once("error", reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Waits until `pred` holds (checked after each arrival), or fails after `ms`. */
  async until(pred: () => boolean, ms = 5000, what = "condition"): Promise<void> {
    const deadline = performance.now() + ms;
    while (!pred()) {
      if (performance.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; records so far: ${this.describe()}`);
      }
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  describe(): string {
    return this.records.map((r) => `${r.type}/${r.id}/${r.content.length}`).join(" ") +
      (this.closed ? " [closed]" : "");
  }

  ends(id: number): Rec[] {
    return this.records.filter((r) => r.type === T.END && r.id === id);
  }

  /** Everything sent for `id` up to its END_REQUEST. */
  async response(id: number, ms = 5000): Promise<Ended> {
    await this.until(() => this.ends(id).length > 0, ms, `END_REQUEST ${id}`);
    const recs = this.records.filter((r) => r.id === id);
    const end = recs.find((r) => r.type === T.END)!.content;
    return {
      stdout: cat(...recs.filter((r) => r.type === T.STDOUT).map((r) => r.content)),
      stderr: recs.filter((r) => r.type === T.STDERR).map((r) => dec.decode(r.content)).join(""),
      appStatus: ((end[0] << 24) | (end[1] << 16) | (end[2] << 8) | end[3]) >>> 0,
      protocolStatus: end[4],
      records: recs,
    };
  }

  waitClosed(ms = 5000): Promise<void> {
    return this.until(() => this.closed, ms, "connection close");
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface Parsed {
  status: number;
  headers: [string, string][];
  head: string;
  body: Uint8Array;
  text: string;
}

/** A connection the worker may refuse; null when its reset beat the connect callback (seen on Bun under load). */
export async function connectRefused(address: string): Promise<RawConn | null> {
  try {
    return await RawConn.connect(address);
  } catch (err) {
    if ((err as { code?: string }).code !== "ECONNRESET") throw err;
    return null;
  }
}

/** Splits a CGI response (STDOUT) into status, headers and body. */
export function parseCgi(stdout: Uint8Array): Parsed {
  let end = -1;
  for (let i = 0; i + 3 < stdout.length; i++) {
    if (stdout[i] === 13 && stdout[i + 1] === 10 && stdout[i + 2] === 13 && stdout[i + 3] === 10) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error(`no header block in ${JSON.stringify(dec.decode(stdout.slice(0, 200)))}`);
  const head = dec.decode(stdout.slice(0, end));
  const headers = head.split("\r\n").map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
  });
  const status = Number(headers.find(([n]) => n === "status")?.[1].split(" ")[0] ?? 200);
  const body = stdout.slice(end + 4);
  return { status, headers, head, body, text: dec.decode(body) };
}

/** The 32-bit FNV-1a hash of `bytes`, as test/fixtures/app.js's /sum reports it. */
export function fnv(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** One request on a fresh connection; returns the parsed response and the raw end. */
export async function fetchRaw(
  address: string,
  method: string,
  uri: string,
  opts: Parameters<typeof requestBytes>[3] = {},
): Promise<Parsed & { end: Ended }> {
  const c = await RawConn.connect(address);
  try {
    c.send(requestBytes(1, method, uri, opts));
    const end = await c.response(1);
    return { ...parseCgi(end.stdout), end };
  } finally {
    c.close();
  }
}
