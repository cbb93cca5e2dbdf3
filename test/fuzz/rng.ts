// A small seeded PRNG (mulberry32) so every fuzz case is a pure function of its 32-bit seed and a
// failure can be replayed exactly from the seed printed with it.

export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }

  /** A 32-bit seed for a sub-generator. */
  seed(): number {
    return this.int(2 ** 32);
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** Mostly small, sometimes around the edges that matter, rarely large. */
  size(max: number): number {
    const r = this.next();
    if (r < 0.6) return this.int(Math.min(max, 64) + 1);
    if (r < 0.85) return Math.min(max, this.pick([0, 127, 128, 255, 256, 4095, 4096, 8192, 0xfff8, 0xffff, 0x10000]));
    return this.int(max + 1);
  }
}
