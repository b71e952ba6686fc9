import type { ServiceInfo } from './controller.js';

/**
 * Plain-text forms of service data, shared by the talk replies and the CLI
 * (which imports this module at run time: it must stay free of agent code).
 */

export function renderLogLine(service: string, l: { at: string; version: number; stream: string; line: string }): string {
  return `${l.at} ${service}@v${l.version} ${l.stream === 'stderr' ? 'err' : 'out'} | ${l.line}`;
}

export function describeService(info: ServiceInfo): string {
  const lines = [`service ${info.name} (app ${info.app}): ${info.state}, ${info.health}${info.degraded_reason ? ` — ${info.degraded_reason}` : ''}`];
  for (const i of [info.current, info.previous, info.launching]) {
    if (!i) continue;
    const exit = i.exit ? `, exited ${i.exit.at} (${i.exit.error ?? (i.exit.signal ? `signal ${i.exit.signal}` : `code ${i.exit.code}`)})` : '';
    lines.push(`  ${i.role.padEnd(9)} v${i.version} pid ${i.pid ?? '-'} ${i.address} ${i.state}, launched ${i.launched_at}${exit}`);
  }
  const last = info.last_deploy;
  if (last) lines.push(`  last deploy ${last.id}: v${last.from_version ?? '-'} -> v${last.version} ${last.result}${last.error ? `: ${last.error}` : ''}`);
  return lines.join('\n');
}
