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
      expect.objectContaining({ name: 'echo', ports: [9000, 9001], bind: '127.0.0.1', targets: ['127.0.0.1:8000', '[::1]:8001'], balance: 'round-robin', protocol: 'tcp', health: { interval: 5, timeout: 2, rise: 2, fall: 3 } }),
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

  it('rejects a duplicate app name and foo settings out of range', () => {
    expect(problems({ apps: [{ name: 'a', ports: [1] }, { name: 'a', ports: [2] }] })).toEqual(['apps[1].name: duplicate app name "a"']);
    expect(problems({ foo: { on_invalid: 'drop' } })[0]).toMatch(/^foo\.on_invalid:/);
  });
});
