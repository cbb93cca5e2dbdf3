// The active requests of one connection, by id. Web servers seldom multiplex, so the one request
// at a time is held in a field and a Map is made only for a second: V8 shrinks a Map's table (a
// runtime call and a new table) each time its last entry is deleted, once per request on Deno.

export class Requests<T extends { readonly id: number }> {
  #one: T | null = null;
  #more: Map<number, T> | null = null;
  size = 0;

  get(id: number): T | undefined {
    const one = this.#one;
    if (one !== null && one.id === id) return one;
    return this.#more?.get(id);
  }

  /** Adds a request whose id is not active (the caller checks with get). */
  add(ex: T): void {
    if (this.#one === null) this.#one = ex;
    else (this.#more ??= new Map()).set(ex.id, ex);
    this.size++;
  }

  /** Removes `ex`; false if it is not the active request of its id (already removed). */
  remove(ex: T): boolean {
    if (this.#one === ex) this.#one = null;
    else if (this.#more !== null && this.#more.get(ex.id) === ex) this.#more.delete(ex.id);
    else return false;
    this.size--;
    return true;
  }

  /** The active requests, as a snapshot: the caller may end them while it walks the list. */
  list(): T[] {
    const all: T[] = this.#one === null ? [] : [this.#one];
    if (this.#more !== null) { for (const ex of this.#more.values()) all.push(ex); }
    return all;
  }
}
