// `npm run example`: examples/app.ts as a FastCGI worker on a Unix socket, behind a private nginx
// started with examples/nginx.conf on 127.0.0.1. Ctrl-C stops both.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { nginxUser, startNginx } from "../test/lib/nginx.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchcgi-example-"));
const sock = path.join(dir, "app.sock");

const worker = spawn(process.execPath, [
  path.join(root, "dist/cli.js"),
  path.join(root, "examples/app.ts"),
  "--listen",
  `unix:${sock}`,
], { stdio: "inherit" });
for (let i = 0; !fs.existsSync(sock); i++) {
  if (i > 100 || worker.exitCode !== null) throw new Error("the worker did not start");
  await new Promise((r) => setTimeout(r, 50));
}
const nginx = await startNginx({
  template: path.join(root, "examples/nginx.conf"),
  vars: { __USER__: nginxUser(), __SOCKET__: sock },
  portVars: ["__PORT__", "__STREAM_PORT__", "__PLAIN_PORT__"],
  prefix: path.join(dir, "nginx"),
});
const url = `http://127.0.0.1:${nginx.ports.__PORT__}`;
const res = await fetch(`${url}/from-the-example`);
console.log(`GET ${url}/from-the-example → ${res.status} ${(await res.text()).trim()}`);
console.log(`nginx on ${url} (streaming variant on port ${nginx.ports.__STREAM_PORT__}), worker on ${sock}`);
console.log(`try: curl ${url}/env ; curl --data-binary @README.md ${url}/upload   (Ctrl-C to stop)`);

const stop = async () => {
  await nginx.stop();
  worker.kill("SIGTERM");
  await new Promise((r) => worker.once("exit", r));
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
