import type { TargetChange } from '../../forward/commands.js';

/**
 * The one confirmation line of every target command, for talk and the CLI:
 * `APP HOST:PORT: what it is now`, e.g. `web 127.0.0.1:5001: draining`.
 */
export function renderTargetChange(r: TargetChange): string {
  const t = r.target;
  let what: string;
  switch (r.change) {
    case 'added':
      what = `added, weight ${t.weight}${t.weight === 0 ? ' (no new connections)' : ''}, health ${t.health}`;
      break;
    case 'removed':
      what = t.active > 0 ? `removed (${t.active} open connection${t.active === 1 ? '' : 's'} continue${t.active === 1 ? 's' : ''})` : 'removed';
      break;
    case 'weight':
      what = t.weight === 0 ? 'weight 0 (draining: no new connections)' : `weight ${t.weight}`;
      break;
    case 'draining':
      what = 'draining';
      break;
    case 'enabled':
      what = 'enabled';
      break;
    case 'disabled':
      what = 'disabled';
      break;
  }
  return `${r.app} ${t.address}: ${what}`;
}
