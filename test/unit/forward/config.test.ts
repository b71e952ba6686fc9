import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';

function problems(cfg: unknown): string[] {
  try {
    parseConfig(cfg);
  } catch (err) {
    return (err as { problems: string[] }).problems;
  }
  return [];
}

describe('apps config', () => {
  it('accepts the Fly form as is and normalises it with every default', () => {
    const cfg = parseConfig({ Apps: [{ Name: 'echo', Ports: [9000, 9001], Targets: ['127.0.0.1:8000', '[::1]:8001'] }] });
    expect(cfg.apps).toEqual([
      expect.objectContaining({ name: 'echo', ports: [9000, 9001], bind: '127.0.0.1', targets: [
          { address: '127.0.0.1:8000', weight: 1 },
          { address: '[::1]:8001', weight: 1 },
        ], balance: 'round-robin', protocol: 'tcp', health: { interval: 5, timeout: 2, rise: 2, fall: 3 } }),
    ]);
    expect(cfg).not.toHaveProperty('Apps');
  });

  it('lets an app list no static targets (a service fills them)', () => {
    expect(parseConfig({ apps: [{ name: 'notes', ports: [9000] }] }).apps[0]!.targets).toEqual([]);
  });

  it('names the path of a duplicate port across apps, in either form', () => {
    expect(problems({ apps: [{ name: 'a', ports: [9000] }, { name: 'b', ports: [9001, 9000] }] })).toEqual(['apps[1].ports[1]: port 9000 already used by app "a"']);
    expect(problems({ apps: [{ name: 'a', ports: [9000] }], Apps: [{ Name: 'b', Ports: [9000], Targets: [] }] })).toEqual(['Apps[0].Ports[0]: port 9000 already used by app "a"']);
  });

  it('takes port 0 (the kernel picks one) any number of times', () => {
    expect(problems({ apps: [{ name: 'a', ports: [0, 0] }, { name: 'b', ports: [0] }] })).toEqual([]);
  });

  it('names the path of a port out of range, a malformed target, an unknown balance or protocol', () => {
    const p = problems({ apps: [{ name: 'a', ports: [70000], targets: ['127.0.0.1:80', 'no-port'], balance: 'fastest', protocol: 'http' }] });
    expect(p).toContain('apps[0].ports[0]: port 70000 out of range (0-65535)');
    expect(p).toContain('apps[0].targets[1]: malformed target "no-port" (expected host:port with port 1-65535)');
    expect(p.find((m) => m.startsWith('apps[0].balance:'))).toMatch(/round-robin/);
    expect(p.find((m) => m.startsWith('apps[0].protocol:'))).toMatch(/foo/);
  });

  it('takes a target as "host:port" or {address, weight}, both normalised to the object', () => {
    const cfg = parseConfig({ apps: [{ name: 'web', ports: [0], targets: ['10.0.0.1:80', { address: '10.0.0.2:80', weight: 3 }, { address: '10.0.0.3:80' }, { address: '10.0.0.4:80', weight: 0 }] }] });
    expect(cfg.apps[0]!.targets).toEqual([
      { address: '10.0.0.1:80', weight: 1 },
      { address: '10.0.0.2:80', weight: 3 },
      { address: '10.0.0.3:80', weight: 1 },
      { address: '10.0.0.4:80', weight: 0 },
    ]);
  });

  it('names the path of a bad target weight, a malformed address in either form, and a target of neither form', () => {
    const p = problems({
      apps: [{ name: 'a', ports: [0], targets: [{ address: '10.0.0.1:80', weight: 300 }, { address: 'nope', weight: 1 }, { address: '10.0.0.1:81', weight: 1.5 }, { address: '10.0.0.1:82', weight: '2' }, { address: '10.0.0.1:83', wieght: 2 }, 42, { weight: 2 }] }],
    });
    expect(p).toEqual([
      'apps[0].targets[0].weight: weight 300 out of range (0-256)',
      'apps[0].targets[1].address: malformed target "nope" (expected host:port with port 1-65535)',
      'apps[0].targets[2].weight: weight must be an integer',
      'apps[0].targets[3].weight: weight must be a number',
      'apps[0].targets[4]: unknown key "wieght"',
      'apps[0].targets[5]: a target is "host:port" or {"address": "host:port", "weight": 0-256}',
      'apps[0].targets[6].address: required',
    ]);
  });

  it('rejects a duplicate app name and foo settings out of range', () => {
    expect(problems({ apps: [{ name: 'a', ports: [1] }, { name: 'a', ports: [2] }] })).toEqual(['apps[1].name: duplicate app name "a"']);
    expect(problems({ foo: { on_invalid: 'drop' } })[0]).toMatch(/^foo\.on_invalid:/);
  });
});
