// The ADDR forms of `--listen` and `serve({ listen })`.
//   tcp:HOST:PORT  HOST:PORT  [::1]:PORT  :PORT and PORT (127.0.0.1)  unix:PATH  /abs/path  fd:N

import type { Address } from "./types.ts";

export class AddressError extends TypeError {
  name = "AddressError";
}

const FORMS = "tcp:HOST:PORT, HOST:PORT, [IPv6]:PORT, :PORT, PORT, unix:PATH, /absolute/path or fd:N";

/**
 * Reads a listen address in any of the `--listen` forms; throws a TypeError (AddressError) that
 * names the forms for anything else.
 *
 * @example
 * ```ts
 * parseAddress(":9000"); // { kind: "tcp", host: "127.0.0.1", port: 9000 }: loopback unless asked
 * parseAddress("[::1]:9000"); // { kind: "tcp", host: "::1", port: 9000 }
 * parseAddress("/run/app.sock"); // { kind: "unix", path: "/run/app.sock" }
 * parseAddress("fd:0"); // { kind: "fd", fd: 0 }
 * ```
 */
export function parseAddress(spec: string): Address {
  if (typeof spec !== "string" || spec === "") throw new AddressError(`empty listen address; use ${FORMS}`);
  if (spec.startsWith("unix:")) {
    const path = spec.slice(5);
    if (!path) throw new AddressError(`listen address ${JSON.stringify(spec)} has no path`);
    return { kind: "unix", path };
  }
  if (spec.startsWith("/")) return { kind: "unix", path: spec };
  if (spec.startsWith("fd:")) {
    const fd = spec.slice(3);
    if (!/^\d{1,9}$/.test(fd)) throw new AddressError(`listen address ${JSON.stringify(spec)}: fd must be a number`);
    return { kind: "fd", fd: Number(fd) };
  }
  // A bare port, as PHP-FPM's `listen = 9000` is written; loopback like :PORT (PHP-FPM listens on every address).
  if (/^\d+$/.test(spec)) return tcp(spec, "127.0.0.1", spec);
  const rest = spec.startsWith("tcp:") ? spec.slice(4) : spec;
  let host: string;
  let port: string;
  const v6 = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]:(.*)$/.exec(rest);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon < 0) throw new AddressError(`listen address ${JSON.stringify(spec)} has no port; use ${FORMS}`);
    host = rest.slice(0, colon);
    port = rest.slice(colon + 1);
    if (host.includes(":")) {
      throw new AddressError(`listen address ${JSON.stringify(spec)}: write IPv6 hosts in brackets, e.g. [::1]:9000`);
    }
    if (host === "") host = "127.0.0.1"; // loopback unless asked otherwise
    if (host === "*") host = "0.0.0.0";
  }
  return tcp(spec, host, port);
}

function tcp(spec: string, host: string, port: string): Address {
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new AddressError(`listen address ${JSON.stringify(spec)}: port must be 0-65535`);
  }
  return { kind: "tcp", host, port: Number(port) };
}

/**
 * An address as the worker writes it in its log lines and Server.address (a Listener's `address`).
 *
 * @example
 * ```ts
 * formatAddress({ kind: "tcp", host: "::1", port: 9000 }); // "tcp:[::1]:9000"
 * formatAddress(parseAddress("/run/app.sock")); // "unix:/run/app.sock"
 * ```
 */
export function formatAddress(a: Address): string {
  if (a.kind === "unix") return `unix:${a.path}`;
  if (a.kind === "fd") return `fd:${a.fd}`;
  return `tcp:${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}

/** `--socket-mode` / `socketMode`: octal string ("660", "0660") or number. */
export function parseMode(mode: string | number): number {
  if (typeof mode === "number") {
    if (Number.isInteger(mode) && mode >= 0 && mode <= 0o777) return mode;
  } else if (/^0?[0-7]{3}$/.test(mode)) {
    return parseInt(mode, 8);
  }
  throw new TypeError(`socket mode ${JSON.stringify(mode)} must be octal permissions like 660`);
}
