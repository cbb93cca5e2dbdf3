// The floor: what one read and one write per request cost on a runtime's own socket API, with
// the least JS a FastCGI responder can get away with. Every request gets the same canned answer
// (the bench's hello, with fetchcgi's headers); records are parsed only far enough to find where
// each request ends (its empty STDIN record) and its id, across reads split anywhere.

const head = "content-type: text/plain;charset=UTF-8\r\nStatus: 200 OK\r\n\r\n";
const content = new TextEncoder().encode(head + "Hello, World!");
const padding = (8 - (content.length % 8)) % 8;
/** STDOUT with the answer, the empty STDOUT, END_REQUEST; the id is patched in per request. */
const template = new Uint8Array(8 + content.length + padding + 8 + 16);
template.set([1, 6, 0, 0, content.length >> 8, content.length & 255, padding, 0]);
template.set(content, 8);
const tail = 8 + content.length + padding;
template.set([1, 6, 0, 0, 0, 0, 0, 0], tail);
template.set([1, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], tail + 8);
const ID_AT = [2, tail + 2, tail + 10];

/** One connection's parse state. `push` returns what to write for the requests a read completed, or null. */
export class Canned {
  #header = new Uint8Array(8);
  #fill = 0;
  #skip = 0;
  #last = -1;
  #answer = template.slice();

  push(b) {
    let out = null;
    for (let i = 0; i < b.length;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, b.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const h = this.#header;
      while (this.#fill < 8 && i < b.length) h[this.#fill++] = b[i++];
      if (this.#fill < 8) break;
      this.#fill = 0;
      const length = (h[4] << 8) | h[5];
      this.#skip = length + h[6];
      if (h[1] !== 5 || length !== 0) continue; // only the empty STDIN ends a request
      const id = (h[2] << 8) | h[3];
      out = out === null ? this.#for(id) : concat(out, this.#for(id));
    }
    return out;
  }

  #for(id) {
    if (id !== this.#last) {
      for (const at of ID_AT) {
        this.#answer[at] = id >> 8;
        this.#answer[at + 1] = id & 255;
      }
      this.#last = id;
    }
    return this.#answer;
  }
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
