/** Polls `check` until it returns a value other than undefined, or fails with `describe()` after `timeoutMs`. */
export async function pollUntil<T>(check: () => Promise<T | undefined> | T | undefined, options: { timeoutMs: number; intervalMs?: number; describe?: () => Promise<string> | string }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${options.timeoutMs} ms${options.describe ? `: ${await options.describe()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** A small deterministic PRNG (mulberry32), so that generated workloads repeat exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
