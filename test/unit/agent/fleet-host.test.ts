import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/load.js';
import { fleetHost } from '../../../src/agent/fleet-host.js';

describe('the agent as the fleet sees it', () => {
  const host = (engine: string | null) =>
    fleetHost({ apply: async () => {}, config: () => ({ ...defaultConfig(), forward: { ...defaultConfig().forward, engine: 'auto' } }), parts: () => undefined, engine: () => engine });

  it('reports the data-plane engine that runs, not the configured choice', () => {
    expect(host('node').status().engine).toBe('node');
    expect(host('native').status().engine).toBe('native');
  });

  it('reports the configured engine while no engine runs yet (the agent still starting)', () => {
    expect(host(null).status()).toEqual({ engine: 'auto', apps: [], services: [] });
  });
});
