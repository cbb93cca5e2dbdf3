// Large transfers over raw FastCGI without keeping the bytes: an upload that writes STDIN as fast
// as the worker takes it (awaiting 'drain'), and a reader that counts STDOUT and throws it away.
// Used by the bounds tests (hundreds of MiB) and the soak script (1 GiB).

import net from "node:net";
import { baseParams, begin, cat, pairs, record, stream, T } from "./fcgi.ts";

export interface Counted {
  /** STDOUT bytes, head included. */
  stdout: number;
  /** The first STDOUT bytes (up to 64 KiB), enough for the CGI head. */
  head: string;
  stderr: string;
  /** END_REQUEST's appStatus, or null if the connection closed without one. */
  appStatus: number | null;
}

function connect(address: string): Promise<net.Socket> {
  const m = /^tcp:(?:\[(.+)\]|(.+)):(\d+)$/.exec(address);
  const opts = address.startsWith("unix:") ? { path: address.slice(5) } : { host: m![1] ?? m![2], port: Number(m![3]) };
  return new Promise((resolve, reject) => {
    const s = net.connect(opts as net.NetConnectOpts, () => resolve(s));
    s.once("error", reject);
  });
}

/** Counts the records of request 1 as they arrive; resolves at END_REQUEST or close. */
function countResponse(socket: net.Socket): Promise<Counted> {
  const out: Counted = { stdout: 0, head: "", stderr: "", appStatus: null };
  const dec = new TextDecoder();
  const header = new Uint8Array(8);
  let have = 0; // header bytes collected
  let body = 0; // content bytes of the current record still to come
  let pad = 0; // then its padding
  let endBytes: number[] = [];
  return new Promise((resolve, reject) => {
    socket.on("data", (chunk: Uint8Array) => {
      let i = 0;
      while (i < chunk.length) {
        if (have < 8) {
          header[have++] = chunk[i++];
          if (have === 8) {
            body = (header[4] << 8) | header[5];
            pad = header[6];
          }
        } else if (body > 0) {
          const part = chunk.subarray(i, i + Math.min(body, chunk.length - i));
          const type = header[1];
          if (type === T.STDOUT) {
            out.stdout += part.length;
            if (out.head.length < 65536) out.head += dec.decode(part, { stream: true });
          } else if (type === T.STDERR) out.stderr += dec.decode(part);
          else if (type === T.END) endBytes.push(...part);
          body -= part.length;
          i += part.length;
        } else if (pad > 0) {
          const skip = Math.min(pad, chunk.length - i);
          pad -= skip;
          i += skip;
        }
        if (have === 8 && body === 0 && pad === 0) {
          have = 0;
          if (header[1] === T.END) {
            out.appStatus = ((endBytes[0] << 24) | (endBytes[1] << 16) | (endBytes[2] << 8) | endBytes[3]) >>> 0;
            socket.destroy();
            return resolve(out);
          }
        }
      }
    });
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
  });
}

/** GET `uri` and count the response without keeping it. */
export async function download(address: string, uri: string): Promise<Counted> {
  const s = await connect(address);
  const done = countResponse(s);
  s.write(cat(begin(1), stream(T.PARAMS, 1, pairs(baseParams("GET", uri))), stream(T.STDIN, 1)));
  return done;
}

/** POST `size` bytes to `uri` in full 65535-byte STDIN records, as fast as the socket drains. */
export async function upload(address: string, uri: string, size: number): Promise<Counted> {
  const s = await connect(address);
  const done = countResponse(s);
  s.write(cat(begin(1), stream(T.PARAMS, 1, pairs(baseParams("POST", uri, { CONTENT_LENGTH: String(size) })))));
  const full = record(T.STDIN, 1, new Uint8Array(0xffff).fill(117)); // one buffer, written again and again
  let sent = 0;
  while (sent < size && !s.destroyed) {
    const n = Math.min(0xffff, size - sent);
    const ok = s.write(n === 0xffff ? full : record(T.STDIN, 1, new Uint8Array(n).fill(117)));
    sent += n;
    if (!ok) await drained(s);
  }
  s.write(record(T.STDIN, 1));
  return done;
}

/** Resolves once `s` can take more (or is closed), without leaving listeners behind. */
export function drained(s: net.Socket): Promise<void> {
  return new Promise<void>((r) => {
    const go = () => {
      s.off("drain", go);
      s.off("close", go);
      r();
    };
    s.on("drain", go);
    s.on("close", go);
  });
}
