// The HTTP way on Bun: Bun.serve with the bench app. `bun bench/http/bun.js unix:/path | tcp:HOST:PORT [app.js]`
import { loadApp, parseListen } from "./addr.js";

const where = parseListen(process.argv[2]);
const app = await loadApp(process.argv[3]);
// Bun.serve refuses bodies past 128 MiB by default; fetchcgi sets no limit, so neither does this.
const options = { fetch: app.fetch, maxRequestBodySize: Infinity };
const server = Bun.serve(
  where.path ? { ...options, unix: where.path } : { ...options, hostname: where.hostname, port: where.port },
);
process.on("SIGTERM", () => server.stop(true).then(() => process.exit(0)));
