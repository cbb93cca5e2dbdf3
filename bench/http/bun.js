// The HTTP way on Bun: Bun.serve with the bench app. `bun bench/http/bun.js unix:/path | tcp:HOST:PORT`
import app from "../app.js";
import { parseListen } from "./addr.js";

const where = parseListen(process.argv[2]);
const server = Bun.serve(where.path ? { unix: where.path, fetch: app.fetch } : { hostname: where.hostname, port: where.port, fetch: app.fetch });
process.on("SIGTERM", () => server.stop(true).then(() => process.exit(0)));
