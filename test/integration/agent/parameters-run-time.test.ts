import { afterEach, describe, expect, it } from 'vitest';
import type { ParameterRow } from '../../../src/config/parameters.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';
import { notesConfig, startNotes } from '../deploy/notes-service.js';

/** `parameters` names every run-time change as such, not only the proxy list's (cvmfs_talk shows what is in force). */

afterEach(() => closeInProcessAgents());

describe('parameters', () => {
  it('shows apps as a run-time setting while an app has target changes, with the targets it runs on; app reset returns it to the file', async () => {
    // a port nobody listens on is enough: parameters is about config, not traffic
    const agent = await startInProcessAgent({ config: { apps: [{ name: 'web', ports: [0], targets: ['127.0.0.1:9'] }] } });
    const apps = async () => (await agent.rpc<ParameterRow[]>('agent.parameters', { prefix: 'apps' })).find((r) => r.key === 'apps')!;

    expect((await apps()).source).toBe('file');
    await agent.rpc('target.add', { app: 'web', target: '127.0.0.1:10', weight: 3 });
    const changed = await apps();
    expect(changed.source).toBe('run-time');
    expect((changed.value as Array<{ targets: unknown }>)[0]!.targets).toEqual([
      { address: '127.0.0.1:9', weight: 1 },
      { address: '127.0.0.1:10', weight: 3 },
    ]);
    expect(await agent.talk('parameters apps')).toMatch(/^apps=.*"127\.0\.0\.1:10".*# run-time\n$/);

    await agent.rpc('app.reset', { name: 'web' });
    expect((await apps()).source).toBe('file');
  });

  it('shows services as a run-time setting while a service scale holds over the configured instances', async () => {
    const { config } = await notesConfig();
    const agent = await startNotes(config);
    const services = async () => (await agent.rpc<ParameterRow[]>('agent.parameters', { prefix: 'services' })).find((r) => r.key === 'services')!;
    expect((await services()).source).toBe('file');

    await agent.rpc('service.scale', { service: 'notes', instances: 2 });
    const scaled = await services();
    expect(scaled.source).toBe('run-time');
    expect((scaled.value as Array<{ name: string; instances: number }>).map((s) => [s.name, s.instances])).toEqual([['notes', 2]]);
  });
});
