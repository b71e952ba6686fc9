/** A job id argument: a positive integer, else `usage` (exit 2). */
export function parseJobId(raw: string, usage: (message: string) => never): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) usage(`job id must be a positive integer (got "${raw}")`);
  return Number(raw);
}
