import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, parseConfig } from '../../../src/config/load.js';
import { formatPath } from '../../../src/errors.js';

function problems(value: unknown): readonly string[] {
  try {
    parseConfig(value);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('config schema', () => {
  it('has a default for every key, so an empty file is a full config', () => {
    const cfg = defaultConfig();
    expect(cfg.control.mode).toBe('0600');
    expect(cfg.proxy.http_proxy).toBe('DIRECT');
    expect(cfg.proxy.timeout).toBe(5);
    expect(cfg.downloads).toMatchObject({ part_size: 16 * 1024 * 1024, store: 'file', connections: 1, max_active: 1, max_rate: 0, ca_file: null });
    expect(cfg.apps).toEqual([]);
    expect(cfg.services).toEqual([]);
  });

  it('fills app defaults', () => {
    const cfg = parseConfig({ apps: [{ name: 'web', ports: [8080], targets: ['127.0.0.1:81'] }] });
    expect(cfg.apps[0]).toMatchObject({ bind: '127.0.0.1', balance: 'round-robin', protocol: 'tcp', health: { interval: 5, timeout: 2, rise: 2, fall: 3 } });
  });

  it('accepts the Fly form and normalises it into apps', () => {
    const cfg = parseConfig({ Apps: [{ Name: 'echo', Ports: [4001, 4002], Targets: ['127.0.0.1:5001', 'localhost:5002'] }] });
    expect(cfg.apps).toHaveLength(1);
    expect(cfg.apps[0]).toMatchObject({ name: 'echo', ports: [4001, 4002], targets: [{ address: '127.0.0.1:5001', weight: 1 }, { address: 'localhost:5002', weight: 1 }], balance: 'round-robin' });
    expect('Apps' in cfg).toBe(false);
  });

  it('names the path of every problem', () => {
    expect(problems({ apps: [{ name: 'a', ports: [80] }, { name: 'b', ports: [81, 70000], targets: ['nohost'] }] })).toEqual([
      'apps[1].ports[1]: port 70000 out of range (0-65535)',
      'apps[1].targets[0]: malformed target "nohost" (expected host:port with port 1-65535)',
    ]);
    expect(problems({ proxy: { timeout: -1, nope: true } })).toEqual(['proxy.timeout: Number must be greater than 0', 'proxy: unknown key "nope"']);
    expect(problems({ apps: [{ name: 'a', ports: [80], balance: 'fastest' }] })[0]).toMatch(/^apps\[0\]\.balance: Invalid enum value/);
  });

  it('rejects duplicate ports across apps, also between the two forms', () => {
    expect(problems({ apps: [{ name: 'a', ports: [80] }, { name: 'b', ports: [81, 80] }] })).toEqual(['apps[1].ports[1]: port 80 already used by app "a"']);
    expect(problems({ apps: [{ name: 'a', ports: [80] }], Apps: [{ Name: 'b', Ports: [80], Targets: [] }] })).toEqual(['Apps[0].Ports[0]: port 80 already used by app "a"']);
  });

  it('rejects a service naming an unknown app', () => {
    expect(problems({ services: [{ name: 's', command: ['x'], app: 'ghost' }] })).toEqual(['services[0].app: unknown app "ghost"']);
  });

  it('listens apps that name no bind on forward.bind, in either form; an app\'s own bind wins', () => {
    const cfg = parseConfig({
      forward: { bind: '127.0.0.3' },
      apps: [{ name: 'a', ports: [80] }, { name: 'b', ports: [81], bind: '0.0.0.0' }],
      Apps: [{ Name: 'c', Ports: [82], Targets: [] }],
    });
    expect(cfg.apps.map((a) => [a.name, a.bind])).toEqual([['a', '127.0.0.3'], ['b', '0.0.0.0'], ['c', '127.0.0.3']]);
    expect(defaultConfig().forward.bind).toBe('127.0.0.1');
  });

  it('has no cluster by default; a cluster key gets its defaults, the node named after the host', () => {
    expect(defaultConfig().cluster).toBeUndefined();
    expect(parseConfig({ cluster: {} }).cluster).toEqual({ endpoints: ['http://127.0.0.1:2379'], prefix: '/proxyctl/', node: hostname(), lease_ttl: 10 });
    expect(problems({ cluster: { prefix: 'proxyctl', endpoints: ['etcd:2379'], node: 'a b', tls: { ca: 'ca.pem', cert: 'c.pem' } } })).toEqual([
      'cluster.endpoints[0]: endpoint must be an http:// or https:// URL',
      'cluster.prefix: prefix must start and end with "/", e.g. "/proxyctl/"',
      'cluster.node: node must be 1-63 letters, digits, ".", "_" or "-"',
      'cluster.tls: tls.cert and tls.key go together',
    ]);
  });

  it('takes sizes and rates with suffixes, as curl and aria2 do', () => {
    expect(parseConfig({ downloads: { max_rate: '1M', part_size: '4M' } }).downloads).toMatchObject({ max_rate: 1048576, part_size: 4194304 });
    expect(parseConfig({ downloads: { max_rate: '500K' } }).downloads.max_rate).toBe(512000);
    expect(problems({ downloads: { max_rate: 'fast' } })).toEqual(['downloads.max_rate: "fast" is not a size (bytes, or a number with K, M or G: 16M, 500K)']);
    expect(problems({ downloads: { part_size: 100 } })).toEqual(['downloads.part_size: 100 is below the minimum of 4096 bytes']);
  });

  it('says what replaced a removed key instead of "unknown key"', () => {
    expect(problems({ downloads: { concurrency: 2 } })).toEqual(['downloads.concurrency: renamed to downloads.max_active (jobs downloading at once); connections per job are downloads.connections']);
    expect(problems({ downloads: { timeout: 5 } })[0]).toMatch(/^downloads\.timeout: removed: the connect timeout of a download is proxy\.timeout/);
  });

  it('formats paths like JavaScript accessors', () => {
    expect(formatPath(['apps', 2, 'ports', 0])).toBe('apps[2].ports[0]');
    expect(formatPath([])).toBe('(root)');
  });
});
