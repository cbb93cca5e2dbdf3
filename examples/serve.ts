// bun run examples/serve.ts · deno run --allow-net examples/serve.ts · node examples/serve.ts (Node >= 22.6)
// For a Unix socket, pass listen: "unix:/run/app.sock"; Deno then also needs
// --allow-read=/run/app.sock --allow-write=/run/app.sock (and --allow-net may be scoped to unix:/run/app.sock),
// and --allow-sys to set the socket's mode (660 unless socketMode says otherwise) while binding, not just after.
import { serve } from "../mod.ts";
import app from "./app.ts";

const server = serve(app, { listen: "127.0.0.1:9000" });
await server.ready;
console.error(`FastCGI worker on ${server.address}`);
