// A Workers-style module: the same file runs on Cloudflare Workers and behind any FastCGI web server.
import type { Context, Params } from "../mod.ts";

export default {
  async fetch(request: Request, env: Params, ctx: Context): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/env") {
      return Response.json({ role: ctx.role, remote: env.REMOTE_ADDR, server: env.SERVER_SOFTWARE });
    }
    if (request.method === "POST") return new Response(`got ${(await request.arrayBuffer()).byteLength} bytes\n`);
    return new Response(`hello ${url.pathname}\n`);
  },
};
