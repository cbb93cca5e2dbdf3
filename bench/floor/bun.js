// The floor on Bun (bench/floor/canned.js): Bun.listen, a canned answer per request. `bun bench/floor/bun.js unix:/path | tcp:HOST:PORT`
import { parseListen } from "../http/addr.js";
import { Canned } from "./canned.js";

const where = parseListen(process.argv[2]);
const socket = {
  open(s) {
    s.data = new Canned();
  },
  data(s, chunk) {
    const out = s.data.push(chunk);
    if (out !== null) s.write(out); // a few dozen bytes: the kernel takes them whole
  },
};
const listener = Bun.listen(
  where.path ? { unix: where.path, socket } : { hostname: where.hostname, port: where.port, socket },
);
process.on("SIGTERM", () => {
  listener.stop(true);
  process.exit(0);
});
