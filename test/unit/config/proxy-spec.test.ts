import { describe, expect, it } from 'vitest';
import { ProxyctlError } from '../../../src/errors.js';
import { buildProxyList, formatProxySpec, parseProxySpec } from '../../../src/config/proxy-spec.js';

describe('proxy string grammar', () => {
  const good: Array<[string, string[][]]> = [
    ['DIRECT', [['DIRECT']]],
    ['http://a:3128', [['http://a:3128']]],
    ['a:3128', [['http://a:3128']]],
    ['http://a:3128|http://b:3128;DIRECT', [['http://a:3128', 'http://b:3128'], ['DIRECT']]],
    ['a:3128; b:3128', [['http://a:3128'], ['http://b:3128']]],
    ['  a:1 | b:2 ;  DIRECT  ', [['http://a:1', 'http://b:2'], ['DIRECT']]],
    ['HTTP://Proxy.Example.ORG:3128/', [['http://proxy.example.org:3128']]],
    ['https://[::1]:8443', [['https://[::1]:8443']]],
    ['127.0.0.1:65535;DIRECT', [['http://127.0.0.1:65535'], ['DIRECT']]],
  ];
  it.each(good)('accepts %j', (spec, groups) => {
    expect(parseProxySpec(spec)).toEqual(groups);
  });

  const badSpecs: Array<[string, RegExp]> = [
    ['a:3128||b:3128', /empty member 1 in group 0/],
    ['a:3128;;b:3128', /empty group 1/],
    ['a:3128;', /empty group 1 .*trailing/],
    ['|a:1', /empty member 0 in group 0/],
    ['a:0', /port 0 out of range/],
    ['a:70000', /port 70000 out of range/],
    ['a:31x8', /bad port "31x8"/],
    ['a', /missing port in "a"/],
    ['socks5://a:1080', /unknown scheme "socks5"/],
    ['ftp://a:21', /unknown scheme "ftp"/],
    ['a b:3128', /contains a space/],
    ['direct', /DIRECT in capitals/],
    ['http://a:1/path', /has a path/],
    ['http://u:p@a:1', /credentials/],
    ['http://a!b:1', /bad host/],
    ['DIRECT|http://a:3128', /DIRECT is a group of its own, not a member of group 0 \("DIRECT\|http:\/\/a:3128"\); separate it with ";", e\.g\. "http:\/\/a:3128;DIRECT"/],
    ['a:1;b:2|DIRECT', /DIRECT is a group of its own, not a member of group 1 \("b:2\|DIRECT"\)/],
    ['DIRECT;a:1;DIRECT', /DIRECT appears twice in "DIRECT;a:1;DIRECT" \(groups 0 and 2\)/],
    ['auto', /"auto" \(proxies from the PAC files\) is allowed in http_proxy only/],
  ];
  it.each(badSpecs)('refuses %j naming the bad token', (spec, message) => {
    let err: unknown;
    try {
      parseProxySpec(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxyctlError);
    expect((err as ProxyctlError).code).toBe('PXC_ERR_BAD_PROXY_SPEC');
    expect((err as Error).message).toMatch(message);
  });

  it('treats an empty string as no groups and formats back to the canonical form', () => {
    expect(parseProxySpec('  ')).toEqual([]);
    expect(formatProxySpec(parseProxySpec('a:1 | b:2; DIRECT'))).toBe('http://a:1|http://b:2;DIRECT');
  });
});

describe('fallback proxies', () => {
  it('appends them as the last groups and strips DIRECT from both lists', () => {
    const l = buildProxyList('a:1;DIRECT', 'f:1;g:2;DIRECT');
    expect(l.groups).toEqual([['http://a:1'], ['http://f:1'], ['http://g:2']]);
    expect(l.fallbackStart).toBe(1);
  });

  it('keeps DIRECT when there are no fallbacks, and means DIRECT when both are empty', () => {
    expect(buildProxyList('a:1;DIRECT', '')).toEqual({ groups: [['http://a:1'], ['DIRECT']], fallbackStart: null, pac: null });
    expect(buildProxyList('', '')).toEqual({ groups: [['DIRECT']], fallbackStart: null, pac: null });
  });

  it('names which setting is malformed', () => {
    expect(() => buildProxyList('a:1', 'f:1||g:1')).toThrow(/fallback_proxy: empty member/);
  });
});

describe('auto (proxies from the PAC files)', () => {
  it('is a group of its own, written once, in http_proxy only', () => {
    expect(() => buildProxyList('auto|a:1', '')).toThrow(/auto is a group of its own, not a member of group 0 \("auto\|a:1"\)/);
    expect(() => buildProxyList('auto;a:1;auto', '')).toThrow(/auto appears twice in "auto;a:1;auto" \(groups 0 and 2\)/);
    expect(() => buildProxyList('a:1', 'auto')).toThrow(/fallback_proxy, group 0: "auto" .* http_proxy only/);
  });

  it('stands for the PAC groups, in place, dropping a DIRECT the list already has', () => {
    const pac = [['http://p:1'], ['http://q:2'], ['DIRECT']];
    expect(buildProxyList('a:1;auto;DIRECT', '', pac)).toEqual({ groups: [['http://a:1'], ['http://p:1'], ['http://q:2'], ['DIRECT']], fallbackStart: null, pac: { start: 1, count: 2 } });
    expect(buildProxyList('auto', '', pac)).toEqual({ groups: [['http://p:1'], ['http://q:2'], ['DIRECT']], fallbackStart: null, pac: { start: 0, count: 3 } });
    expect(buildProxyList('auto', 'f:1', pac).groups).toEqual([['http://p:1'], ['http://q:2'], ['http://f:1']]);
  });

  it('is nothing until a PAC answers: the other groups, else DIRECT as in cvmfs', () => {
    expect(buildProxyList('auto;a:1', '', null).groups).toEqual([['http://a:1']]);
    expect(buildProxyList('auto', '', null)).toEqual({ groups: [['DIRECT']], fallbackStart: null, pac: { start: 0, count: 0 } });
  });
});
