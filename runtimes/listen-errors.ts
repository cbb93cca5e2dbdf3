// Every way listening fails, in one form on every runtime:
//   fetchcgi: cannot listen on ADDRESS: REASON (WHAT TO DO)
// The runtimes word the same failure differently (Node `listen EADDRINUSE: address already in use
// 127.0.0.1:9000`, Bun `Failed to listen at 127.0.0.1`, Deno `Address already in use (os error
// 98)`), but all three give the errno name as `code`: the reason is read from that and the address.

import { formatAddress } from "../core/address.ts";
import type { Address } from "../core/types.ts";

/** Why listening on an address failed; `code` is the errno name when the system gave one (EADDRINUSE, EACCES, …). */
export class ListenError extends Error {
  override name = "ListenError";
  readonly code: string | undefined;

  constructor(address: Address, reason: string, todo?: string, options: { code?: string; cause?: unknown } = {}) {
    super(`fetchcgi: cannot listen on ${formatAddress(address)}: ${reason}${todo ? ` (${todo})` : ""}`, {
      cause: options.cause,
    });
    this.code = options.code;
  }
}

/**
 * The longest Unix socket path: Linux's sun_path holds 108 bytes, the last a NUL. Past it Node 20
 * binds a path cut short (and names the whole one), the others refuse with unclear words.
 */
export const UNIX_PATH_MAX = 107;

/** Throws what is wrong with `address` that can be known without trying to bind it. */
export function checkBeforeListen(address: Address): void {
  if (address.kind !== "unix") return;
  const bytes = new TextEncoder().encode(address.path).length;
  if (bytes > UNIX_PATH_MAX) {
    throw new ListenError(
      address,
      `the path is ${bytes} bytes, longer than the ${UNIX_PATH_MAX} a Unix socket's path may have`,
      "choose a shorter one, e.g. under /run",
      { code: "ENAMETOOLONG" },
    );
  }
}

const SOCKET_IN_USE = [
  "a running process is listening there",
  "stop that process first, or choose another path",
] as const;

/** A live worker (or anything else) listens on the socket at `path`. */
export function socketInUse(path: string): ListenError {
  return new ListenError({ kind: "unix", path }, ...SOCKET_IN_USE, { code: "EADDRINUSE" });
}

/** Something that is not a socket is at `path`: never replaced. */
export function notASocket(path: string): ListenError {
  return new ListenError(
    { kind: "unix", path },
    "a file that is not a socket is there",
    "it is never replaced: remove it, or choose another path",
    { code: "EEXIST" },
  );
}

/** `err`, from any runtime's listen, as a ListenError. */
export function explainListenFailure(err: unknown, address: Address): ListenError {
  if (err instanceof ListenError) return err;
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const message = String(e?.message ?? err).replace(/^fetchcgi: /, "");
  const [reason, todo] = explain(code, e?.name, message, address) ??
    [code && !message.includes(code) ? `${message} (${code})` : message];
  return new ListenError(address, reason, todo, { code, cause: err });
}

type Explained = readonly [reason: string, todo?: string] | undefined;

function explain(code: string | undefined, name: unknown, message: string, address: Address): Explained {
  // Deno's own message says which flag is missing.
  if (name === "NotCapable") return ["Deno's permissions do not allow it", message];
  if (address.kind === "fd") {
    return code === "EINVAL" || code === "ENOTSOCK" || code === "EBADF"
      ? [
        `fd ${address.fd} is not a listening socket`,
        "start the worker from a web server or spawn-fcgi that passes one, or give --listen an address",
      ]
      : undefined;
  }
  if (address.kind === "unix") return explainUnix(code, address.path);
  const { host, port } = address;
  switch (code) {
    case "EADDRINUSE":
      return [
        `port ${port} is in use`,
        "another process listens there: find it with `ss -ltnp` and stop it, or choose another port",
      ];
    case "EADDRNOTAVAIL":
      return [
        `${host} is not an address of this machine`,
        "use one of its own, e.g. 127.0.0.1, or 0.0.0.0 for all of them",
      ];
    case "EACCES":
    case "EPERM":
      return port < 1024 && port > 0
        ? ["ports below 1024 need privileges", "use a port from 1024 up, or give the worker CAP_NET_BIND_SERVICE"]
        : ["permission denied", "a security policy such as SELinux or AppArmor refuses it"];
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_FAIL":
    case "EAI_NONAME":
      return unresolved(host);
  }
  // Bun and Deno give a name that does not resolve no code.
  return code === undefined && !/^[\d.]+$|:/.test(host) ? unresolved(host) : undefined;
}

const unresolved = (
  host: string,
): Explained => [`the host name ${host} does not resolve`, "use an IP address, or a name in /etc/hosts"];

function explainUnix(code: string | undefined, path: string): Explained {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  switch (code) {
    case "EADDRINUSE":
      return SOCKET_IN_USE;
    // Node says EACCES for a missing directory too (libuv turns bind's ENOENT into EACCES): look.
    case "ENOENT":
    case "EACCES":
    case "EPERM": {
      const found = lookAt(dir);
      if (found === "missing") {
        return [
          `the directory ${dir} does not exist`,
          "create it first; a systemd unit's RuntimeDirectory= makes one under /run",
        ];
      }
      if (found === "not a directory") return [`${dir} is not a directory`, "choose a path in a directory"];
      return code === "ENOENT"
        ? undefined
        : [`permission denied in ${dir}`, "the worker's user needs write and search (x) permission on that directory"];
    }
    case "ENOTDIR":
      return [`a part of ${dir} is not a directory`, "choose a path in a directory"];
    case "EROFS":
      return [`${dir} is on a read-only file system`, "choose a writable directory, e.g. under /run"];
  }
  return undefined;
}

/** What `dir` is. Only ever called once listening has failed, so node:fs costs nothing that matters. */
function lookAt(dir: string): "missing" | "not a directory" | "directory" | "unknown" {
  try {
    return process.getBuiltinModule("node:fs").statSync(dir).isDirectory() ? "directory" : "not a directory";
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === "ENOENT" ? "missing" : code === "ENOTDIR" ? "not a directory" : "unknown";
  }
}
