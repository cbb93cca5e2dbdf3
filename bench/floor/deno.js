// The floor on Deno (bench/floor/canned.js): Deno.listen, conn.read into one buffer per
// connection, a canned answer per request. `deno run -A bench/floor/deno.js unix:/path | tcp:HOST:PORT`
import { parseListen } from "../http/addr.js";
import { Canned } from "./canned.js";

const where = parseListen(Deno.args[0]);
const listener = where.path
  ? Deno.listen({ transport: "unix", path: where.path })
  : Deno.listen({ hostname: where.hostname, port: where.port });
Deno.addSignalListener("SIGTERM", () => {
  listener.close();
  Deno.exit(0);
});

async function serve(conn) {
  const canned = new Canned();
  const buf = new Uint8Array(64 * 1024);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      const out = canned.push(buf.subarray(0, n));
      if (out !== null) { for (let at = 0; at < out.length;) at += await conn.write(out.subarray(at)); }
    }
  } catch {
    // the peer went away
  }
  try {
    conn.close();
  } catch {
    // already closed
  }
}

for await (const conn of listener) serve(conn);
