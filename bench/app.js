// The handler every JS contender serves (fetchcgi on each runtime, Bun.serve, Deno.serve, Node's
// http via @hono/node-server, node-fastcgi via the same adapter). Plain JS so Node 20 loads it as
// it is. bench/go/main.go and bench/php/app.php answer the same routes with the same bytes.

const enc = new TextEncoder();
const BIG = new Uint8Array(256 * 1024).fill(120); // "xxx…", built once: the route measures sending it
const SSE_EVENTS = 100;
let counter = 0;

/** About 1 KiB of JSON, built per request so that the route costs what a small API call costs. */
function jsonBody() {
  const n = ++counter;
  const items = [];
  for (let i = 0; i < 13; i++) {
    items.push({
      id: n * 13 + i,
      name: `item ${i}`,
      price: (i + 1) * 1.25,
      tags: ["alpha", "beta"],
      inStock: i % 2 === 0,
    });
  }
  return { request: n, status: "ok", message: "Hello, World!", items };
}

async function countBody(body) {
  let n = 0;
  if (body) { for await (const chunk of body) n += chunk.length; }
  return n;
}

export default {
  async fetch(request) {
    const url = request.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2)).split("?")[0];
    switch (path) {
      case "/hello":
        return new Response("Hello, World!", { headers: { "content-type": "text/plain" } });
      case "/json":
        return Response.json(jsonBody());
      case "/big":
        return new Response(BIG, { headers: { "content-type": "application/octet-stream" } });
      case "/post": // the whole body in memory, as handlers usually take it
        return new Response(String((await request.arrayBuffer()).byteLength), {
          headers: { "content-type": "text/plain" },
        });
      case "/upload": // streamed: memory must stay flat whatever the size
        return new Response(String(await countBody(request.body)), { headers: { "content-type": "text/plain" } });
      case "/sse": {
        let i = 0;
        return new Response(
          new ReadableStream({
            pull(c) {
              if (i++ >= SSE_EVENTS) return c.close();
              c.enqueue(enc.encode(`id: ${i}\ndata: {"n":${i},"msg":"Hello, World!"}\n\n`));
            },
          }),
          { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" } },
        );
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
