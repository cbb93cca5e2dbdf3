// The HTTP way on Node: node:http with @hono/node-server's Fetch adapter around the bench app.
// `node bench/http/node.js unix:/path | tcp:HOST:PORT [app.js]`
import http from "node:http";
import { getRequestListener } from "@hono/node-server";
import { loadApp, parseListen } from "./addr.js";

const where = parseListen(process.argv[2]);
const app = await loadApp(process.argv[3]);
const server = http.createServer({ keepAliveTimeout: 60_000 }, getRequestListener(app.fetch));
if (where.path) server.listen(where.path);
else server.listen(where.port, where.hostname);
process.on("SIGTERM", () => server.close(() => process.exit(0)) && server.closeAllConnections());
