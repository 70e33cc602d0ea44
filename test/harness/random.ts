// Reproducible "random" choices for tests: the same subjects on every run, so a failure can
// be replayed, while still spreading over the seeded data.

/** mulberry32: a small fixed-seed PRNG returning numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n distinct items drawn without replacement (fewer when there are fewer). */
export function pick<T>(
  items: readonly T[],
  n: number,
  random: () => number,
): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length > 0)
    out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}
