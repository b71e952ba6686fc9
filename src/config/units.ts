/**
 * Byte sizes and rates as curl and aria2 write them: a number with an optional
 * binary suffix, `K` = 1024, `M` = 1024², `G` = 1024³ (`KiB`, `MiB`, `GiB` and
 * a trailing `B` or `/s` are accepted too). `1M`, `500K`, `1.5M`, `1048576`.
 * Used by the config schema, the control commands and the CLI, so every place
 * that takes a size reads it the same way.
 */

const SUFFIX: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes of `1M`, `500K`, `1.5MiB`, `4096`; null when it is not a size. */
export function parseBytes(raw: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?\s*$/i.exec(raw);
  if (!m) return null;
  const value = Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(Math.round(value)) ? Math.round(value) : null;
}

/** A size given as a number (bytes) or a string with a suffix; the error says what is accepted. */
export function toBytes(value: number | string, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer number of bytes, or a size like 1M or 500K`);
    return value;
  }
  const n = parseBytes(value);
  if (n === null) throw new RangeError(`${what}: "${value}" is not a size (use bytes, or a number with K, M or G: 1M, 500K)`);
  return n;
}
