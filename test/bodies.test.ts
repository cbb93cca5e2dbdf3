// Every way a handler reads a request body gives exactly the bytes sent, on every runtime, every
// way of listening (TCP, Unix, an inherited fd 0 over Unix and over TCP) and with the lazy Request
// (the default) and the runtime's: arrayBuffer(), bytes(), text(), json(), formData() (urlencoded
// and multipart) and the stream, each checked by length and FNV-1a hash (test/fixtures/app.js's
// /read?digest), 10 bytes and 200 KiB (many records, many reads), on fresh connections and on one
// FCGI_KEEP_CONN connection with the requests sent back to back. Deno over fd 0 (node:net) once
// gave arrayBuffer() of a 10-byte body the whole read around it (issue 25).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import util from "node:util";
import { fetchRaw, fnv, parseCgi, RawConn, requestBytes } from "./lib/fcgi.ts";
import { APP, ROOT, type Runtime, runtimes, startWorker, tmpDir, type WorkerProc } from "./lib/workers.ts";

const enc = new TextEncoder();

/** Deterministic bytes of every value (xorshift), so that a shifted or foreign byte changes the hash. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** n bytes of UTF-8 text with 2- and 3-byte characters, nothing JSON escapes. */
function text(n: number): string {
  const cycle = ["a", "é", "b", "✓", " ", "c", "ß", "€", "0", "z"];
  let s = "";
  let bytes = 0;
  for (let i = 0;; i++) {
    const c = cycle[i % cycle.length];
    const size = enc.encode(c).length;
    if (bytes + size > n) break;
    s += c;
    bytes += size;
  }
  return s + "x".repeat(n - bytes);
}

/** n characters of [0-9a-z], which a urlencoded value carries as they are. */
const alnum = (n: number, seed: number): string =>
  Array.from(noise(n, seed), (b) => "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36]).join("");

const digest = (b: Uint8Array) => ({ length: b.length, hash: fnv(b) });

interface Case {
  name: string;
  uri: string;
  body: Uint8Array;
  type?: string;
  /** What /read?digest answers, bar `as`. */
  expect: Record<string, unknown>;
}

function multipart(note: string, file: Uint8Array): { body: Uint8Array; type: string } {
  const boundary = "----fetchcgi-bodies-7d1f0c2a9e";
  const head = `--${boundary}\r\ncontent-disposition: form-data; name="note"\r\n\r\n${note}\r\n` +
    `--${boundary}\r\ncontent-disposition: form-data; name="upload"; filename="data.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const body = new Uint8Array([...enc.encode(head), ...file, ...enc.encode(tail)]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

/** Every reader at `n` bytes of body (about n for the forms). */
function cases(n: number): Case[] {
  const bytes = noise(n, n);
  const s = text(n);
  const json = JSON.stringify(text(n - 2));
  const a = n < 100 ? "1" : alnum(n >> 1, 1);
  const b = n < 100 ? "2345" : alnum(n >> 1, 2);
  const note = text(Math.min(n, 1000));
  const file = noise(n, n + 1);
  const form = multipart(note, file);
  const read = (as: string) => `/read?as=${as}&digest`;
  return [
    { name: `arrayBuffer ${n}`, uri: read("arrayBuffer"), body: bytes, expect: digest(bytes) },
    { name: `bytes ${n}`, uri: read("bytes"), body: bytes, expect: { ...digest(bytes), own: true } },
    { name: `text ${n}`, uri: read("text"), body: enc.encode(s), expect: digest(enc.encode(s)) },
    { name: `json ${n}`, uri: read("json"), body: enc.encode(json), expect: digest(enc.encode(json)) },
    {
      name: `formData urlencoded ${n}`,
      uri: read("formData"),
      body: enc.encode(`a=${a}&b=${b}`),
      type: "application/x-www-form-urlencoded",
      expect: { entries: [{ name: "a", ...digest(enc.encode(a)) }, { name: "b", ...digest(enc.encode(b)) }] },
    },
    {
      name: `formData multipart ${n}`,
      uri: read("formData"),
      body: form.body,
      type: form.type,
      expect: {
        entries: [{ name: "note", ...digest(enc.encode(note)) }, {
          name: "upload",
          file: "data.bin",
          type: "application/octet-stream",
          ...digest(file),
        }],
      },
    },
    { name: `stream ${n}`, uri: read("stream"), body: bytes, expect: { ...digest(bytes), plain: true } },
  ];
}

const ALL = [...cases(10), ...cases(200 * 1024)];

/** What the worker answered to `c`, if it is not what was expected; bytes() on Node 20 is absent. */
function mismatch(c: Case, stdout: Uint8Array): string | null {
  const r = parseCgi(stdout);
  if (r.status !== 200) return `${c.name}: status ${r.status}: ${r.text}`;
  const got = JSON.parse(r.text);
  if (got.absent) return null;
  const expected = { as: new URLSearchParams(c.uri.split("?")[1]).get("as"), ...c.expect, used: true };
  return util.isDeepStrictEqual(got, expected)
    ? null
    : `${c.name}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`;
}

const opts = (c: Case) => ({ body: c.body, params: c.type ? { CONTENT_TYPE: c.type } : undefined });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once("error", reject);
  });
}

let spawnFcgiBin: string | undefined;
function spawnFcgi(): string {
  try {
    return (spawnFcgiBin ??= execFileSync("sh", ["-c", "command -v spawn-fcgi"], { encoding: "utf8" }).trim());
  } catch {
    throw new Error("spawn-fcgi is not installed (apt-get install -y spawn-fcgi): the fd-0 cases need it");
  }
}

/** A running worker and the address a client reaches it on. */
interface Started {
  worker: WorkerProc;
  address: string;
}

/** The ways a worker listens; fd 0 as a web server hands it over: no --listen. */
const MODES: { name: string; start(rt: Runtime, args: string[]): Promise<Started> }[] = [
  {
    name: "tcp",
    start: async (rt, args) => {
      const worker = await startWorker(rt, [...args, "--listen", "127.0.0.1:0"]);
      return { worker, address: worker.address };
    },
  },
  {
    name: "unix",
    start: async (rt, args) => {
      const worker = await startWorker(rt, [...args, "--listen", `unix:${path.join(tmpDir(), "w.sock")}`]);
      return { worker, address: worker.address };
    },
  },
  {
    name: "fd 0 (unix)",
    start: async (rt, args) => {
      const sock = path.join(tmpDir(), "spawned.sock");
      const worker = await startWorker(rt, args, { launcher: [spawnFcgi(), "-n", "-s", sock, "--"] });
      assert.equal(worker.address, "fd:0");
      return { worker, address: `unix:${sock}` };
    },
  },
  {
    name: "fd 0 (tcp)",
    start: async (rt, args) => {
      const port = await freePort();
      const worker = await startWorker(rt, args, {
        launcher: [spawnFcgi(), "-n", "-a", "127.0.0.1", "-p", String(port), "--"],
      });
      assert.equal(worker.address, "fd:0");
      return { worker, address: `tcp:127.0.0.1:${port}` };
    },
  },
];

/** Every case on a fresh connection each, then all of them back to back on one FCGI_KEEP_CONN connection. */
function readerTests(label: string, start: () => Promise<Started>, kind: "lazy" | "runtime"): void {
  describe(label, () => {
    let s: Started | undefined;
    before(async () => {
      s = await start();
      assert.equal((await fetchRaw(s.address, "GET", "/request-class")).text, kind);
    });
    after(async () => {
      await s?.worker.stop();
    });
    const annotate = async (fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        (err as Error).message += `\n--- worker log ---\n${s?.worker.log().split("\n").slice(-20).join("\n")}`;
        throw err;
      }
    };

    test("each reader, a connection per request", { timeout: 60000 }, () =>
      annotate(async () => {
        const wrong = [];
        for (const c of ALL) wrong.push(mismatch(c, (await fetchRaw(s!.address, "POST", c.uri, opts(c))).end.stdout));
        assert.deepEqual(wrong.filter(Boolean), []);
      }));

    test(
      "each reader, all on one FCGI_KEEP_CONN connection, sent back to back",
      { timeout: 60000 },
      () =>
        annotate(async () => {
          const conn = await RawConn.connect(s!.address);
          try {
            conn.send(
              new Uint8Array(
                ALL.flatMap((c, i) => [...requestBytes(i + 1, "POST", c.uri, { ...opts(c), keepConn: true })]),
              ),
            );
            const wrong = [];
            for (const [i, c] of ALL.entries()) wrong.push(mismatch(c, (await conn.response(i + 1, 30000)).stdout));
            assert.deepEqual(wrong.filter(Boolean), []);
            assert.equal(conn.closed, false, "the kept connection stays open");
          } finally {
            conn.close();
          }
        }),
    );
  });
}

for (const rt of runtimes()) {
  for (const mode of MODES) {
    for (const kind of ["lazy", "runtime"] as const) {
      const args = kind === "lazy" ? [APP] : [APP, "--no-lazy-request"];
      readerTests(`${rt.name}, ${mode.name}, ${kind} Request`, () => mode.start(rt, args), kind);
    }
  }
}

// fetchcgi/node on Bun and Deno: their node:net, whatever the address (Deno's CLI takes it for fd 0 only).
const NODE_ADAPTER = path.join(ROOT, "test/fixtures/serve-node.ts");
for (const rt of runtimes().filter((r) => r.name === "bun" || r.name === "deno")) {
  const viaNode: Runtime = {
    ...rt,
    cli: (a) => (rt.name === "deno" ? ["run", "-A", NODE_ADAPTER, ...a] : [NODE_ADAPTER, ...a]),
  };
  for (const kind of ["lazy", "runtime"] as const) {
    readerTests(`${rt.name}, fetchcgi/node over tcp, ${kind} Request`, async () => {
      const worker = await startWorker(viaNode, ["127.0.0.1:0", kind]);
      return { worker, address: worker.address };
    }, kind);
  }
}
