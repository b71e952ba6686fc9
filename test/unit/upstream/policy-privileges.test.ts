import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_EVENTS } from '../../../src/control/events.js';
import type { SubsystemContext } from '../../../src/agent/subsystem.js';
import { parseConfig } from '../../../src/config/load.js';
import { CommandRegistry } from '../../../src/control/registry.js';
import { StateStore } from '../../../src/state/state-db.js';
import { StatsRegistry } from '../../../src/stats/registry.js';
import { assertTrustedModule } from '../../../src/upstream/module-trust.js';
import { loadPolicy } from '../../../src/upstream/policies.js';
import { createUpstream, STATE_KEY, type UpstreamSubsystem } from '../../../src/upstream/subsystem.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';

/**
 * A policy module runs with the agent's privileges: only the config file
 * names one, never the control socket, and only a file nobody but the
 * agent's user or root can change is loaded.
 */

const POLICY = 'export function setPreferredProxy(job) { job.order = job.members.map((_, i) => i); job.index = 0; }\nexport function handleFailure(job) { job.index++; }\n';
/** A module that leaves a mark when it is imported (the code ran). */
const marking = (mark: string) => `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(mark)}, 'ran');\n${POLICY}`;

const open: Array<{ state: StateStore; stats: StatsRegistry }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    o.state.close();
    o.stats.close();
  }
  await cleanupAgents();
});

function upstream(config: object, saved?: object): { sub: UpstreamSubsystem; registry: CommandRegistry; state: StateStore } {
  const dir = tempDir();
  const state = new StateStore(join(dir, 'state.db'));
  if (saved) state.set(STATE_KEY, saved);
  const stats = new StatsRegistry();
  open.push({ state, stats });
  const registry = new CommandRegistry();
  const ctx: SubsystemContext = { config: parseConfig({ proxy: { health_check: false, ...config } }), stateDir: dir, stats, logger: pino({ level: 'silent' }), state, events: NO_EVENTS };
  const { subsystem: sub, commands } = createUpstream(ctx);
  registry.add(...commands);
  return { sub, registry, state };
}

describe('the control socket and policy modules', () => {
  it('sets the built-in policies, and refuses a module path without loading it', async () => {
    const dir = tempDir();
    const mark = join(dir, 'ran');
    const evil = join(dir, 'evil.mjs');
    writeFileSync(evil, marking(mark));
    const { sub, registry } = upstream({});
    await sub.start();
    const policy = registry.byMethod('proxy.policy')!;
    await registry.invoke(policy, { name: 'sharding' }, { dialect: 'talk' });
    expect(sub.currentPolicy()).toBe('sharding');
    await expect(registry.invoke(policy, { name: evil }, { dialect: 'talk' })).rejects.toMatchObject({
      code: 'PXC_ERR_BAD_POLICY',
      message: `proxy policy "${evil}" refused: the control socket sets only the built-in policies (default, sharding); name a policy module in the config file (proxy.policy) and reload`,
    });
    await expect(registry.invoke(policy, { name: './evil.mjs' }, { dialect: 'jsonrpc' })).rejects.toMatchObject({ code: 'PXC_ERR_BAD_POLICY' });
    expect(existsSync(mark)).toBe(false);
    expect(sub.currentPolicy()).toBe('sharding');
    await sub.close();
  });

  it('drops a module path saved as a run-time override by an older agent, without loading it at start', async () => {
    const dir = tempDir();
    const mark = join(dir, 'ran');
    const evil = join(dir, 'evil.mjs');
    writeFileSync(evil, marking(mark));
    const { sub, state } = upstream({}, { policy: evil, http_proxy: 'DIRECT' });
    await sub.start();
    expect(existsSync(mark)).toBe(false);
    expect(sub.currentPolicy()).toBe('default');
    expect(state.get(STATE_KEY)).toEqual({ http_proxy: 'DIRECT' });
    await sub.close();
  });

  it('loads a module named by the config file', async () => {
    const dir = tempDir();
    const good = join(dir, 'good.mjs');
    writeFileSync(good, POLICY);
    const { sub } = upstream({ policy: good });
    await sub.start();
    expect(sub.currentPolicy()).toBe(good);
    await sub.close();
  });
});

describe('policy module files', () => {
  it('refuses a module others can write, or that another user owns', async () => {
    const dir = tempDir();
    const file = join(dir, 'p.mjs');
    writeFileSync(file, POLICY);
    chmodSync(file, 0o666);
    await expect(loadPolicy(file, dir)).rejects.toThrow(`proxy policy module ${file}: refused: ${file} is writable by everyone (mode 0666); it would run with the agent's privileges`);
    chmodSync(file, 0o664);
    expect(() => assertTrustedModule(file)).toThrow(`${file} is writable by its group (mode 0664)`);
    chmodSync(file, 0o644);
    assertTrustedModule(file);
    // As seen by an agent running as uid 4242: root's file is fine, another user's is not.
    assertTrustedModule(file, 4242);
    chownSync(file, 1234, 1234);
    expect(() => assertTrustedModule(file, 4242)).toThrow(`${file} is owned by uid 1234, not by the agent's user (uid 4242) or root`);
  });

  it('refuses a module in a directory others can write, unless it is sticky like /tmp', () => {
    const dir = tempDir();
    const sub = join(dir, 'shared');
    mkdirSync(sub);
    const file = join(sub, 'p.mjs');
    writeFileSync(file, POLICY);
    chmodSync(sub, 0o777);
    expect(() => assertTrustedModule(file)).toThrow(`${sub} is writable by everyone (mode 0777)`);
    chmodSync(sub, 0o1777);
    assertTrustedModule(file);
    chmodSync(dir, 0o770);
    expect(() => assertTrustedModule(file)).toThrow(`${dir} is writable by its group (mode 0770)`);
  });
});
