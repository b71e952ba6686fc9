import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { SubsystemContext } from '../../../src/agent/subsystem.js';
import { parseConfig } from '../../../src/config/load.js';
import { NO_EVENTS, type EventPublisher } from '../../../src/control/events.js';
import { CommandRegistry } from '../../../src/control/registry.js';
import { toErrorPayload } from '../../../src/errors.js';
import { StateStore } from '../../../src/state/state-db.js';
import { StatsRegistry } from '../../../src/stats/registry.js';
import { UpstreamSubsystem, type UpstreamDeps } from '../../../src/upstream/subsystem.js';
import { upstreamCommands } from '../../../src/upstream/commands.js';
import { talkRenderers } from '../../../src/ui/render/talk.js';
import { tempDir } from '../../helpers/agent.js';

/**
 * The upstream subsystem in-process, with its command registry: `talk` and
 * `rpc` go through the same registry the control socket serves, without a
 * socket or an agent process. `restart` builds a new subsystem on the same
 * state DB (what an agent restart keeps).
 */

export interface Upstream {
  sub: UpstreamSubsystem;
  registry: CommandRegistry;
  state: StateStore;
  stats: StatsRegistry;
  talk(line: string): Promise<string>;
  rpc<T = unknown>(method: string, params?: object): Promise<T>;
  restart(config?: object): Promise<Upstream>;
  close(): Promise<void>;
}

const opened: Upstream[] = [];

/** Closes every subsystem a test opened (call in afterEach). */
export async function closeUpstreams(): Promise<void> {
  for (const u of opened.splice(0)) await u.close();
}

/** What the subsystem logs and publishes, for tests that read it (default: silent, no events). */
export interface UpstreamSinks {
  logger?: Logger;
  events?: EventPublisher;
}

export async function openUpstream(proxy: object, deps: UpstreamDeps = {}, dir = tempDir(), start = true, sinks: UpstreamSinks = {}): Promise<Upstream> {
  const state = new StateStore(join(dir, 'state.db'));
  const stats = new StatsRegistry();
  const registry = new CommandRegistry();
  const ctx: SubsystemContext = { config: parseConfig({ proxy: { health_check: false, ...proxy } }), stateDir: dir, stats, logger: sinks.logger ?? pino({ level: 'silent' }), state, events: sinks.events ?? NO_EVENTS };
  const sub = new UpstreamSubsystem(ctx, deps);
  registry.add(...upstreamCommands(sub));
  registry.useTalkRenderers(async () => talkRenderers);
  let closed = false;
  const u: Upstream = {
    sub,
    registry,
    state,
    stats,
    async talk(line) {
      try {
        const m = registry.matchTalk(line);
        if (!m) return `error: ${registry.unknownTalk(line)}\n`;
        const result = await registry.invoke(m.command, registry.talkParams(m.command, m.args, m.rest), { dialect: 'talk' });
        return `${await registry.renderText(m.command, result)}\n`;
      } catch (err) {
        return `error: ${toErrorPayload(err).message}\n`;
      }
    },
    async rpc<T>(method: string, params: object = {}) {
      const c = registry.byMethod(method);
      if (!c) throw new Error(`no method ${method}`);
      return (await registry.invoke(c, params, { dialect: 'jsonrpc' })) as T;
    },
    async restart(next = proxy) {
      await u.close();
      return openUpstream(next, deps, dir, true, sinks);
    },
    async close() {
      if (closed) return;
      closed = true;
      await sub.close();
      state.close();
      stats.close();
    },
  };
  opened.push(u);
  if (start) await sub.start();
  return u;
}
