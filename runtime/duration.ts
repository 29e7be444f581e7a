const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const pattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** The JSON Schema pattern every duration in configuration must match: a number with a unit. */
export const durationPattern = '^\\d+(\\.\\d+)?(ms|s|m|h|d)$';

/** Parses `500ms`, `10s`, `5m`, `2h`, `1d` into milliseconds. Durations in configuration always carry a unit. */
export function parseDuration(text: string): number {
  const match = pattern.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration: write a number with a unit (ms, s, m, h, d), e.g. 500ms or 10s`);
  return Math.round(Number(match[1]) * units[match[2]!]!);
}
