import type { DeployRecord, InstanceInfo, ServiceHistoryView, ServiceInfo } from '../../deploy/controller.js';

/**
 * Plain-text forms of service data, shared by the talk replies and the CLI.
 * Pure functions over the reply types (type imports only), so the agent can
 * use them without loading any CLI code and the CLI without agent code.
 */

export function renderLogLine(service: string, l: { at: string; version: number; instance?: number; stream: string; line: string }): string {
  return `${l.at} ${service}@v${l.version}${l.instance ? `#${l.instance}` : ''} ${l.stream === 'stderr' ? 'err' : 'out'} | ${l.line}`;
}

export function describeExit(exit: NonNullable<InstanceInfo['exit']>): string {
  return exit.error ?? (exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`);
}

/** `v2 -> v3`, `×2 -> ×4` (scale), `stop`. */
export function describeChange(d: DeployRecord): string {
  if (d.kind === 'scale') return `to ${d.instances} instance${d.instances === 1 ? '' : 's'}`;
  if (d.kind === 'stop') return `v${d.version || '-'} stopped`;
  return `v${d.from_version ?? '-'} -> v${d.version}`;
}

/** One line of an operation as it starts: `deploy 3: notes v1 -> v2, ROLLOUT_LAUNCH_NEW`. */
export function describeOperation(d: DeployRecord & { state?: string }): string {
  return `${d.kind} ${d.id}: ${d.service} ${describeChange(d)}${d.state ? `, ${d.state}` : ''}`;
}

export function describeInstance(i: InstanceInfo): string {
  const exit = i.exit ? `, exited ${i.exit.at} (${describeExit(i.exit)})` : '';
  const restarts = i.restarts > 0 ? `, ${i.restarts} restart${i.restarts === 1 ? '' : 's'}` : '';
  const next = i.next_restart_at ? `, restart at ${i.next_restart_at}` : i.gave_up ? ', gave up (max_restarts)' : '';
  return `${i.role.padEnd(9)} #${i.instance} v${i.version} pid ${i.pid ?? '-'} ${i.address} ${i.state}, launched ${i.launched_at}${exit}${restarts}${next}`;
}

export function describeService(info: ServiceInfo): string {
  const head = `service ${info.name} (app ${info.app}): ${info.state}, ${info.health}, v${info.version ?? '-'}, ${info.ready}/${info.scale} ready, ${info.restarts} restart${info.restarts === 1 ? '' : 's'}`;
  const lines = [`${head}${info.degraded_reason ? ` — ${info.degraded_reason}` : ''}`];
  for (const i of info.instances) lines.push(`  ${describeInstance(i)}`);
  const last = info.last_deploy;
  if (last) lines.push(`  last ${last.kind} ${last.id}: ${describeChange(last)} ${last.result}${last.error ? `: ${last.error}` : ''}`);
  if (info.config_changed) lines.push(`  the config's command/env/cwd differ from v${info.version}: 'deploy ${info.name}' applies them`);
  return lines.join('\n');
}

/** Seconds an operation took, or '-' while it runs. */
export function duration(d: DeployRecord): string {
  if (!d.finished_at) return '-';
  return `${((Date.parse(d.finished_at) - Date.parse(d.started_at)) / 1000).toFixed(1)}s`;
}

export function describeRelease(r: ServiceHistoryView['releases'][number], view: ServiceHistoryView): string {
  const mark = r.version === view.version ? ' (current)' : r.version === view.previous_version ? ' (previous)' : '';
  const source = r.source === 'rollback' ? `rollback to v${r.rollback_of}'s command` : 'config';
  return `v${r.version}${mark} ${r.created_at} ${source}: ${r.command.join(' ')}${Object.keys(r.env).length ? ` env ${Object.keys(r.env).sort().join(',')}` : ''}`;
}

export function describeHistory(view: ServiceHistoryView): string {
  const lines = [`service ${view.service}: v${view.version ?? '-'} current${view.previous_version === null ? '' : `, v${view.previous_version} previous (deploy --rollback goes back to it)`}`];
  if (view.deploys.length === 0) lines.push('  no operations yet');
  for (const d of [...view.deploys].reverse()) lines.push(`  ${d.id} ${d.kind} ${describeChange(d)} ${d.result} ${d.started_at} ${duration(d)}${d.error ? `: ${d.error}` : ''}`);
  lines.push('releases:');
  for (const r of [...view.releases].reverse()) lines.push(`  ${describeRelease(r, view)}`);
  return lines.join('\n');
}
