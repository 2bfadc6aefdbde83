/**
 * mapLimit runs `fn` over `items` with at most `limit` calls in flight, and resolves with the
 * results in input order. A rejected call rejects the whole map only after every started call has
 * settled; callers that must not stop on one failure (refresh, apply) catch inside `fn`.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let firstError: { e: unknown } | undefined;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        firstError ??= { e };
      }
    }
  };
  const n = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (firstError) throw firstError.e;
  return out;
}
