import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, type ControlClient, type Notification } from '../control/client.js';
import type { EventPayloads } from '../control/events.js';
import type { DeployRecord } from '../deploy/controller.js';
import type { DeployStarted } from '../deploy/commands.js';
import { ProxyctlError } from '../errors.js';

/** The agent's deploy.phase event, as the CLI receives it. */
export type PhaseEvent = EventPayloads['deploy.phase'] & { time: string; seq: number };

export interface FollowOptions {
  /** Called for each phase the operation passes, in order. */
  onPhase(phase: { state: string; at: string; batch: string | null }): void;
  /** Give up (PXC_ERR_TIMEOUT) after this many ms; the operation goes on in the agent. */
  timeoutMs: number;
}

/** How often an agent without events is asked for the record (the fallback). */
const POLL_MS = 200;

/**
 * Starts a service operation and follows it to its end on one connection:
 * subscribes to deploy.phase first (so no phase is missed), starts it, prints
 * its phases as the events come, and returns its final record. An agent from
 * before events (events.subscribe unknown) is polled instead.
 */
export async function followOperation(client: ControlClient, start: () => Promise<DeployStarted>, opts: FollowOptions): Promise<DeployRecord> {
  const seen: PhaseEvent[] = [];
  let wake: (() => void) | null = null;
  const off = client.onNotification((n: Notification) => {
    if (n.method !== 'event' || n.params.topic !== 'deploy.phase') return;
    seen.push(n.params as unknown as PhaseEvent);
    wake?.();
  });
  try {
    let events = true;
    try {
      await client.call('events.subscribe', { topics: ['deploy.phase'] });
    } catch (err) {
      if (!(err instanceof AgentError) || err.code !== 'PXC_ERR_UNKNOWN_COMMAND') throw err;
      events = false;
    }
    const started = await start();
    const deadline = Date.now() + opts.timeoutMs;
    if (!events) return await poll(client, started, opts, deadline);
    let shown = 0;
    for (;;) {
      const mine = seen.filter((e) => e.service === started.service && e.deploy === started.id);
      for (; shown < mine.length; shown++) opts.onPhase({ state: mine[shown]!.state, at: mine[shown]!.time, batch: mine[shown]!.batch });
      const last = mine.at(-1);
      if (last && last.result !== 'running') break;
      const left = deadline - Date.now();
      if (left <= 0) throw timedOut(started);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        client.closed.then(reject, reject);
      }).finally(() => (wake = null));
    }
    return await finalRecord(client, started);
  } finally {
    off();
  }
}

async function finalRecord(client: ControlClient, started: DeployStarted): Promise<DeployRecord> {
  const info = await client.call('service.info', { service: started.service });
  const d = info.deploys.find((x) => x.id === started.id);
  if (!d) throw new ProxyctlError('PXC_ERR_INTERNAL', `${started.kind} ${started.id} is no longer in the service's history`);
  return d;
}

async function poll(client: ControlClient, started: DeployStarted, opts: FollowOptions, deadline: number): Promise<DeployRecord> {
  let shown = 0;
  for (;;) {
    const d = await finalRecord(client, started);
    for (; shown < d.phases.length; shown++) opts.onPhase({ state: d.phases[shown]!.state, at: d.phases[shown]!.at, batch: d.phases[shown]!.batch ?? null });
    if (d.result !== 'running') return d;
    if (Date.now() > deadline) throw timedOut(started);
    await sleep(POLL_MS);
  }
}

function timedOut(started: DeployStarted): ProxyctlError {
  return new ProxyctlError('PXC_ERR_TIMEOUT', `${started.kind} ${started.id} of ${started.service} still running after the wait timeout; it goes on in the agent (proxyctl service info ${started.service})`);
}
