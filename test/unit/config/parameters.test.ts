import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { configParameters, renderParameters } from '../../../src/config/parameters.js';

describe('parameters', () => {
  const file = { proxy: { http_proxy: 'http://a:3128;DIRECT', timeout: 3 }, Apps: [{ Name: 'web', Ports: [8080], Targets: ['127.0.0.1:81'] }] };
  const config = parseConfig(file);

  it('lists every key of the effective config with its source: default, file or run-time', () => {
    const rows = configParameters(config, { file, runtime: { 'proxy.timeout': 2, 'proxy.http_proxy': 'auto' } });
    const row = (key: string) => rows.find((r) => r.key === key);
    expect(row('proxy.http_proxy')).toEqual({ key: 'proxy.http_proxy', value: 'auto', source: 'run-time' });
    expect(row('proxy.timeout')).toEqual({ key: 'proxy.timeout', value: 2, source: 'run-time' });
    expect(row('proxy.timeout_direct')).toEqual({ key: 'proxy.timeout_direct', value: 10, source: 'default' });
    expect(row('proxy.pac_urls')).toEqual({ key: 'proxy.pac_urls', value: ['http://wpad/wpad.dat'], source: 'default' });
    expect(row('apps')).toMatchObject({ source: 'file', value: [{ name: 'web', ports: [8080] }] });
    expect(row('control.mode')).toEqual({ key: 'control.mode', value: '0600', source: 'default' });
    // every leaf of the config is there, objects are walked into, absent optional sections are not
    expect(rows.some((r) => r.key === 'proxy')).toBe(false);
    expect(rows.some((r) => r.key.startsWith('cluster'))).toBe(false);
    expect(rows.filter((r) => r.key.startsWith('proxy.')).length).toBe(Object.keys(config.proxy).length);
  });

  it('tells a key set by a fleet document from one set in the file', () => {
    const fleet = { ...file, proxy: { ...file.proxy, policy: 'sharding' } };
    const rows = configParameters(parseConfig(fleet), { file, fleet, runtime: {} });
    expect(rows.find((r) => r.key === 'proxy.policy')).toEqual({ key: 'proxy.policy', value: 'sharding', source: 'fleet' });
    expect(rows.find((r) => r.key === 'proxy.timeout')?.source).toBe('file');
  });

  it('renders as cvmfs_talk does: key=value and the source as a comment', () => {
    expect(renderParameters([{ key: 'proxy.timeout', value: 2, source: 'run-time' }, { key: 'proxy.http_proxy', value: 'DIRECT', source: 'default' }])).toBe(`${'proxy.timeout=2'.padEnd(25)}    # run-time\nproxy.http_proxy="DIRECT"    # default`);
  });
});
