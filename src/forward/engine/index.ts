import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { ProxyctlError } from '../../errors.js';
import type { NativeAddon } from './native-addon.js';
import { NativeEngine } from './native-engine.js';
import { NodeEngine } from './node-engine.js';
import type { Engine } from './types.js';

export type { Engine } from './types.js';

/**
 * Picks the data plane (forward.engine): `native` when the addon loads (or an
 * error naming why it did not), `node` always, `auto` native else node with
 * one warning line naming why.
 */
export function createEngine(cfg: Config['forward'], logger: Logger): Engine {
  if (cfg.engine === 'node') return new NodeEngine();
  const loaded = loadAddon();
  if ('addon' in loaded) return new NativeEngine(loaded.addon, cfg.threads === 0 ? Math.max(1, cpus().length) : cfg.threads);
  if (cfg.engine === 'native') throw new ProxyctlError('PXC_ERR_ENGINE', `forward.engine: the native engine is not available: ${loaded.error}`);
  logger.warn({ reason: loaded.error }, `forward.engine auto: the native engine is not available (${loaded.error}); the app proxies use the node engine`);
  return new NodeEngine();
}

let cached: { addon: NativeAddon } | { error: string } | undefined;

/**
 * Loads the addon once. PROXYCTL_NATIVE_ADDON names another build (the
 * sanitizer build of `npm run build:native -- --asan`); else build/Release of
 * the package (node-gyp's output, built by `npm ci`).
 */
export function loadAddon(): { addon: NativeAddon } | { error: string } {
  if (cached) return cached;
  const path = process.env.PROXYCTL_NATIVE_ADDON || findBuild();
  if (path === null) return (cached = { error: 'build/Release/proxyctl_engine.node not found (npm ci builds it; npm run build:native rebuilds it)' });
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon.Engine !== 'function') return (cached = { error: `${path} is not the proxyctl engine` });
    return (cached = { addon });
  } catch (err) {
    return (cached = { error: `${path}: ${(err as Error).message.split('\n')[0]}` });
  }
}

/** The package root is the first ancestor with our package.json (src/ under vitest, dist/src/ when built). */
function findBuild(): string | null {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    try {
      if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name !== 'proxyctl') continue;
    } catch {
      continue;
    }
    const addon = join(dir, 'build', 'Release', 'proxyctl_engine.node');
    return existsSync(addon) ? addon : null;
  }
  return null;
}

export interface FdLimit {
  /** The soft limit before and after raising it to the hard limit. */
  before: number;
  soft: number;
  hard: number;
}

/**
 * Raises the soft RLIMIT_NOFILE to the hard limit (the addon calls setrlimit;
 * without it the figures are only read, Node itself raises the soft limit at
 * start). Every relayed connection takes two descriptors, more with pipes.
 */
export function raiseFdLimit(): FdLimit | null {
  const loaded = loadAddon();
  if ('addon' in loaded) return loaded.addon.raiseFdLimit();
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    const n = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
    return { before: n(m[1]!), soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return null;
  }
}
