import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A package required at the first call instead of at import: for heavy dependencies that only
 * some runs use (undici, prom-client, cli-table3), so an agent or a CLI start that never needs
 * them does not load them.
 */
export function lazyRequire<T>(pkg: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(pkg) as T);
}
