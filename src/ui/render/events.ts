import type { EventPayloads, Topic } from '../../control/events.js';
import { formatBytes, formatRate } from '../format.js';

/**
 * One line per event for humans (`proxyctl events`, the dashboard's event
 * pane): the time, the topic, then what happened in the words of the
 * commands that show the same state.
 */

export type EventParams = { topic: string; time: string; seq: number } & Record<string, unknown>;

type Describe<T extends Topic> = (e: EventPayloads[T]) => string;

const DESCRIBE: { [T in Topic]: Describe<T> } = {
  'download.state': (e) => `download ${e.id}: ${e.previous ?? '-'} -> ${e.state}${e.error ? `: ${e.error}` : ''} (${e.url})`,
  'download.progress': (e) => `download ${e.id}: ${formatBytes(e.bytes)}${e.total === null ? '' : ` of ${formatBytes(e.total)}`}, ${formatRate(e.rate)}`,
  'deploy.phase': (e) => `${e.service}: ${e.kind} ${e.deploy} v${e.from_version ?? '-'} -> v${e.version} ${e.state}${e.batch ? ` (batch ${e.batch})` : ''}${e.result === 'running' ? '' : ` ${e.result}`}${e.error ? `: ${e.error}` : ''}`,
  'proxy.switch': (e) => `proxy group ${e.from} -> ${e.to} (${e.reason}), revision ${e.revision}`,
  'proxy.health': (e) => `proxy ${e.proxy} ${e.healthy ? 'healthy' : 'unhealthy'}${e.error ? ` (${e.error})` : ''}`,
  'target.health': (e) => `app ${e.app}: target ${e.target} ${e.health}${e.error ? ` (${e.error})` : ''}`,
  'service.exit': (e) => {
    const how = e.error ?? (e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`);
    const next = e.action === 'restart' ? `restart in ${(e.delay_ms ?? 0) / 1000} s` : e.action === 'gave_up' ? 'left down (max_restarts)' : 'not restarted';
    return `${e.service}@v${e.version}${e.instance ? `#${e.instance}` : ''} pid ${e.pid ?? '-'} exited (${how}); ${next}`;
  },
  'service.restart': (e) => `${e.service}@v${e.version}${e.instance ? `#${e.instance}` : ''} restarted, pid ${e.pid ?? '-'} ready (${e.restarts} restart${e.restarts === 1 ? '' : 's'})`,
  'service.scale': (e) => `${e.service}: ${e.from} -> ${e.to} instance${e.to === 1 ? '' : 's'}`,
  'service.health': (e) => `${e.service} ${e.health}${e.reason ? `: ${e.reason}` : ''}`,
  'service.log': (e) => `${e.service}@v${e.version}${e.instance ? `#${e.instance}` : ''} ${e.stream === 'stderr' ? 'err' : 'out'} | ${e.line}`,
  'agent.reload': (e) => (e.ok ? `config reloaded${e.config_path ? ` from ${e.config_path}` : ''}` : `reload refused: ${e.error}`),
};

/** `12:34:56.789 deploy.phase notes: deploy 3 v2 -> v3 READY succeeded`. */
export function describeEvent(e: EventParams): string {
  const describe = DESCRIBE[e.topic as Topic] as ((p: unknown) => string) | undefined;
  const what = describe ? describe(e) : JSON.stringify(e);
  return `${e.time.slice(11, 23)} ${e.topic} ${what}`;
}

/** The `lost` notification: what a reader that fell behind missed. */
export function describeLost(p: { dropped: number; time: string }): string {
  return `${p.time.slice(11, 23)} lost ${p.dropped} event${p.dropped === 1 ? '' : 's'} (this reader fell behind; the agent dropped them)`;
}
