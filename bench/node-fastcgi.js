// node-fastcgi (npm) serving the bench app through @hono/node-server's Fetch adapter: node-fastcgi
// hands out http.IncomingMessage/ServerResponse look-alikes, so the same handler runs unchanged.
// `node bench/node-fastcgi.js unix:/path | tcp:HOST:PORT`
import fcgi from "node-fastcgi";
import { getRequestListener } from "@hono/node-server";
import app from "./app.js";
import { parseListen } from "./http/addr.js";

const where = parseListen(process.argv[2]);
const server = fcgi.createServer(getRequestListener(app.fetch));
if (where.path) server.listen(where.path);
else server.listen(where.port, where.hostname);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
