/**
 * parseDuration reads a `--lock-timeout` style duration: `0`, `500ms`, `5s`, `2m`. A bare number
 * is seconds (Terraform's `-lock-timeout=0s` habit). Returns milliseconds, or undefined if invalid.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
