import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { changedSections, diffDocs, docsFromFile, docsToFile, overlayFleet, validateDocs } from '../../../src/fleet/documents.js';
import { renderChanges } from '../../../src/fleet/render.js';

function refusal(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('accepted');
}

describe('fleet documents', () => {
  it('take the fleet-wide keys of a fleet file, the Fly form stored as apps', () => {
    const docs = docsFromFile({ proxy: { http_proxy: 'http://a:3128;DIRECT', policy: 'sharding' }, apps: [{ name: 'web', ports: [80] }], Apps: [{ Name: 'echo', Ports: [81], Targets: ['127.0.0.1:9'] }] }, 'f.json');
    expect(docs).toEqual({
      proxy: { http_proxy: 'http://a:3128;DIRECT', policy: 'sharding' },
      apps: [{ name: 'web', ports: [80] }, { name: 'echo', ports: [81], targets: ['127.0.0.1:9'] }],
    });
    expect(docsFromFile({}, 'empty.json')).toEqual({});
    expect(docsToFile(docs)).toEqual({ proxy: docs.proxy, apps: docs.apps });
  });

  it('refuse node-local keys by name, and anything the config validator refuses, with its path', () => {
    expect(refusal(() => docsFromFile({ forward: { bind: '0.0.0.0' }, proxy: { timeout: 3 }, cluster: {} }, 'f.json'))).toEqual([
      'forward: node-local, not fleet-wide (fleet-wide keys: proxy.http_proxy, proxy.fallback_proxy, proxy.policy, apps, services)',
      'proxy.timeout: node-local, not fleet-wide (fleet-wide keys: proxy.http_proxy, proxy.fallback_proxy, proxy.policy, apps, services)',
      'cluster: node-local, not fleet-wide (fleet-wide keys: proxy.http_proxy, proxy.fallback_proxy, proxy.policy, apps, services)',
    ]);
    expect(refusal(() => docsFromFile({ proxy: { http_proxy: 'http://a:99999' } }, 'f.json'))[0]).toMatch(/^proxy\.http_proxy: /);
    expect(refusal(() => docsFromFile({ apps: [{ name: 'a', ports: [80] }, { name: 'b', ports: [80] }] }, 'f.json'))).toEqual(['apps[1].ports[0]: port 80 already used by app "a"']);
    expect(refusal(() => docsFromFile([1], 'f.json'))).toEqual(['(root): a fleet file is a JSON object, as a config file']);
  });

  it('name only a built-in policy: a policy module is code every node would run, so only a node\'s own config file names one', () => {
    const why = 'proxy.policy: "./evil.mjs" refused: a fleet document names only a built-in policy (default, sharding); a policy module is named by a node\'s own config file';
    expect(refusal(() => docsFromFile({ proxy: { policy: './evil.mjs' } }, 'f.json'))).toEqual([why]);
    expect(refusal(() => validateDocs({ proxy: { policy: './evil.mjs' } }, 'fleet proxy policy'))).toEqual([why]);
    // a document written to etcd by other means is refused by the node applying it
    expect(refusal(() => overlayFleet({}, { proxy: { policy: './evil.mjs' } }))).toEqual([why]);
    expect(docsFromFile({ proxy: { policy: 'default' } }, 'f.json')).toEqual({ proxy: { policy: 'default' } });
  });

  it('overlay the local file: proxy keys replaced, apps and services merged by name, everything else local', () => {
    const local = {
      forward: { bind: '127.0.0.2' },
      proxy: { http_proxy: 'DIRECT', timeout: 3 },
      apps: [{ name: 'web', ports: [80] }, { name: 'admin', ports: [90] }],
      Apps: [{ Name: 'echo', Ports: [91], Targets: [] }],
    };
    const merged = overlayFleet(local, {
      proxy: { http_proxy: 'http://p:3128' },
      apps: [{ name: 'web', ports: [8080] }, { name: 'echo', ports: [92] }],
      services: [{ name: 's', app: 'web', command: ['x'] }],
    });
    const cfg = parseConfig(merged);
    expect(cfg.proxy).toMatchObject({ http_proxy: 'http://p:3128', timeout: 3 });
    expect(cfg.apps.map((a) => [a.name, a.ports, a.bind])).toEqual([['admin', [90], '127.0.0.2'], ['web', [8080], '127.0.0.2'], ['echo', [92], '127.0.0.2']]);
    expect(cfg.services.map((s) => s.name)).toEqual(['s']);
    expect(local.apps).toHaveLength(2); // the file's JSON is not modified
    expect(overlayFleet(local, {})).toEqual(local);
  });

  it('leave a malformed local section to the validator', () => {
    expect(refusal(() => parseConfig(overlayFleet({ apps: 'none' }, { apps: [{ name: 'web', ports: [80] }] }))).join()).toMatch(/^apps: Expected array/);
  });

  it('diff leaf by leaf, matching apps and services by name', () => {
    const from = { proxy: { http_proxy: 'DIRECT' }, apps: [{ name: 'web', ports: [80], balance: 'random' }, { name: 'old', ports: [81] }] };
    const to = { proxy: { http_proxy: 'http://p:3128', policy: 'sharding' }, apps: [{ name: 'web', ports: [8080] }, { name: 'new', ports: [82] }] };
    const changes = diffDocs(from, to);
    expect(renderChanges(changes)).toBe(
      [
        '~ proxy.http_proxy: "DIRECT" -> "http://p:3128"',
        '+ proxy.policy: "sharding"',
        '- apps[old]',
        '~ apps[web].ports: [80] -> [8080]',
        '- apps[web].balance',
        '+ apps[new]: {"name":"new","ports":[82]}',
      ].join('\n'),
    );
    expect(changedSections(from, to)).toEqual(['proxy', 'apps']);
    expect(renderChanges(diffDocs(to, to))).toBe('no changes');
  });
});
