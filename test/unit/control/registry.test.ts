import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { CommandRegistry, defineCommand, defaultText } from '../../../src/control/registry.js';
import { ProxyctlError } from '../../../src/errors.js';

function registry() {
  const r = new CommandRegistry();
  r.add(
    defineCommand({ method: 'proxy.info', talk: 'proxy info', summary: 'info', params: z.object({}), handler: () => ({ revision: 1 }) }),
    defineCommand({
      method: 'proxy.set',
      talk: 'proxy set',
      usage: 'SPEC',
      summary: 'set',
      params: z.object({ spec: z.string().min(1) }).strict(),
      fromTalk: (_args, rest) => ({ spec: rest }),
      handler: () => null,
    }),
    defineCommand({ method: 'proxy.group.switch', talk: 'proxy group switch', summary: 'switch', params: z.object({}), handler: () => null }),
  );
  return r;
}

describe('CommandRegistry', () => {
  it('matches the longest command words and keeps the raw rest of the line', () => {
    const r = registry();
    const m = r.matchTalk('proxy set http://a:3128; DIRECT');
    expect(m?.command.method).toBe('proxy.set');
    expect(m?.rest).toBe('http://a:3128; DIRECT');
    expect(r.matchTalk('proxy group switch')?.command.method).toBe('proxy.group.switch');
    expect(r.matchTalk('proxy frob')).toBeUndefined();
  });

  it('names the whole unknown talk command and lists its topic\'s commands when the first word is known', () => {
    const r = registry();
    expect(r.unknownTalk('proxy frob x')).toBe('unknown command "proxy frob" (proxy commands: proxy group switch, proxy info, proxy set)');
    expect(r.unknownTalk('  frobnicate now')).toBe(`unknown command "frobnicate"; try 'help'`);
  });

  it('validates params and names the bad one', async () => {
    const r = registry();
    const cmd = r.byMethod('proxy.set')!;
    await expect(r.invoke(cmd, { spec: '' }, { dialect: 'jsonrpc' })).rejects.toThrow(/proxy set: spec: String must contain at least 1/);
    await expect(r.invoke(cmd, { spec: 'x', extra: 1 }, { dialect: 'jsonrpc' })).rejects.toBeInstanceOf(ProxyctlError);
  });

  it('maps positional talk words onto the named params, with a usage error on a wrong count', () => {
    const r = registry();
    r.add(defineCommand({ method: 'target.drain', talk: 'target drain', usage: 'APP HOST:PORT', positional: ['app', 'target'], summary: '', params: z.object({ app: z.string(), target: z.string() }), handler: () => null }));
    const cmd = r.byMethod('target.drain')!;
    expect(r.talkParams(cmd, ['web', '127.0.0.1:81'], 'web 127.0.0.1:81')).toEqual({ app: 'web', target: '127.0.0.1:81' });
    expect(() => r.talkParams(cmd, ['web'], 'web')).toThrow('target drain: usage: target drain APP HOST:PORT');
    expect(() => r.talkParams(cmd, ['a', 'b', 'c'], 'a b c')).toThrow('target drain: usage: target drain APP HOST:PORT');
  });

  it('refuses talk arguments for a command that takes none', () => {
    const r = registry();
    expect(() => r.talkParams(r.byMethod('proxy.info')!, ['x'], 'x')).toThrow('proxy info: takes no arguments');
  });

  it('renders OK for void results and key: value lines for objects', () => {
    expect(defaultText(null)).toBe('OK');
    expect(defaultText({ a: 1, b: 'x' })).toBe('a: 1\nb: x');
  });

  it('refuses duplicate registrations', () => {
    const r = registry();
    expect(() => r.add(defineCommand({ method: 'proxy.info', talk: 'other', summary: '', params: z.object({}), handler: () => null }))).toThrow('duplicate');
  });
});
