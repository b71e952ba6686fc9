import type { ControlClient } from '../control/client.js';
import type { ProxyInfo } from '../upstream/commands.js';
import { changed } from '../ui/outcome.js';

/**
 * A run-time change of the proxy list, then the list read back on the same
 * connection: what `proxy set|fallback|reset|switch|rebalance` print (one
 * line) and return for --json (the new state, as `proxy info --json`).
 */
export async function changeProxies(client: ControlClient, change: (c: ControlClient) => Promise<unknown>): Promise<ProxyInfo> {
  await change(client);
  return client.call('proxy.info', {});
}

/** `proxy groups: SPEC (revision N, active [G] PROXY)` */
export function groupsLine(info: ProxyInfo): string {
  return changed('proxy groups', `${info.spec} (revision ${info.revision}, active [${info.active_group}] ${info.active_proxy})`);
}

/** `proxy fallback: SPEC|none (revision N)` */
export function fallbackLine(info: ProxyInfo): string {
  return changed('proxy fallback', `${info.fallback_spec === '' ? 'none' : info.fallback_spec} (revision ${info.revision})`);
}

/** `proxy group: [G] PROXY active (revision N)` */
export function activeLine(info: ProxyInfo): string {
  return changed('proxy group', `[${info.active_group}] ${info.active_proxy} active (revision ${info.revision})`);
}
