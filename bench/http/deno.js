// The HTTP way on Deno: Deno.serve with the bench app. `deno run -A bench/http/deno.js unix:/path | tcp:HOST:PORT [app.js]`
import { loadApp, parseListen } from "./addr.js";

const where = parseListen(Deno.args[0]);
const app = await loadApp(Deno.args[1]);
const onListen = () => {};
const server = Deno.serve(
  where.path ? { path: where.path, onListen } : { hostname: where.hostname, port: where.port, onListen },
  app.fetch,
);
Deno.addSignalListener("SIGTERM", () => server.shutdown().then(() => Deno.exit(0)));
