import type { z } from 'zod';
import { formatPath, ProxyctlError } from '../errors.js';
import type { EventSession } from './events.js';

/**
 * The agent's one table of commands. Each entry has a JSON-RPC method name, its
 * talk words, a parameter schema, a handler returning plain data and a text
 * renderer; the talk and JSON-RPC dialects are two codecs over this table.
 *
 * Subsystems define their commands with `defineCommand` and return them from
 * their factory; the agent registers them all at once, and `MethodMap` of
 * that one list is the CLI's `Methods` (src/agent/command-list.ts).
 */

export type Dialect = 'talk' | 'jsonrpc';

export interface CallContext {
  readonly dialect: Dialect;
  /** The connection's event subscription: JSON-RPC connections of an agent with an event bus. */
  readonly events?: EventSession;
}

export interface CommandSpec<M extends string, S extends z.ZodTypeAny, R> {
  /** JSON-RPC method, dotted: `proxy.set`. */
  readonly method: M;
  /** Talk words: `proxy set`. Matched as the longest word prefix of a talk line. */
  readonly talk: string;
  /** Talk usage of the arguments after the words, for `help`: `SPEC`, `ID|all`. */
  readonly usage?: string;
  readonly summary: string;
  /** Schema of the JSON-RPC `params` object; talk arguments are mapped onto it by `fromTalk`. */
  readonly params: S;
  /**
   * Talk arguments that are plain words, in order: the params they fill
   * (`['app', 'target']` for `target drain APP HOST:PORT`). Their number must
   * match; a mismatch is a usage error showing `usage`. For anything else
   * (optional words, `key=value`, values with spaces) write `fromTalk`.
   */
  readonly positional?: readonly string[];
  /**
   * Maps the talk arguments to params. `args` are the words after the command
   * words; `rest` is the raw remainder of the line (for values with spaces).
   * Default: `positional`, else no arguments allowed, params `{}`.
   */
  fromTalk?(args: readonly string[], rest: string): z.input<S>;
  handler(params: z.output<S>, ctx: CallContext): R | Promise<R>;
  /** Talk reply text. Default: `OK` for a void result, else `key: value` lines / JSON. */
  renderText?(result: Awaited<R>): string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry stores heterogeneous commands
export type AnyCommand = CommandSpec<string, z.ZodTypeAny, any>;

export function defineCommand<const M extends string, S extends z.ZodTypeAny, R>(spec: CommandSpec<M, S, R>): CommandSpec<M, S, R> {
  return spec;
}

/**
 * Talk renderers by method, kept above the subsystems (src/ui/render/talk.ts:
 * the layouts the CLI prints too) and handed to the registry by the agent's
 * entry point. One for a method wins over the command's own `renderText`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- results differ per method; talk.ts types each against Methods
export type TalkRenderers = Readonly<Record<string, (result: any) => string>>;

/** `{ 'proxy.set': { params, result } … }` of a list of commands, for the CLI's typed client. */
export type MethodMap<T extends readonly AnyCommand[]> = {
  [C in T[number] as C['method']]: {
    params: z.input<C['params']>;
    result: Awaited<ReturnType<C['handler']>>;
  };
};

export class CommandRegistry {
  readonly #byMethod = new Map<string, AnyCommand>();
  readonly #byTalk = new Map<string, AnyCommand>();
  #loadRenderers: (() => Promise<TalkRenderers>) | undefined;
  #renderers: Promise<TalkRenderers> | undefined;

  /** Where the talk renderers come from; loaded at the first talk reply, so an agent only JSON-RPC talks to never loads them. */
  useTalkRenderers(load: () => Promise<TalkRenderers>): void {
    this.#loadRenderers = load;
    this.#renderers = undefined;
  }

  add(...commands: readonly AnyCommand[]): void {
    for (const c of commands) {
      if (this.#byMethod.has(c.method)) throw new Error(`duplicate control method ${c.method}`);
      if (this.#byTalk.has(c.talk)) throw new Error(`duplicate talk command "${c.talk}"`);
      this.#byMethod.set(c.method, c);
      this.#byTalk.set(c.talk, c);
    }
  }

  byMethod(method: string): AnyCommand | undefined {
    return this.#byMethod.get(method);
  }

  list(): AnyCommand[] {
    return [...this.#byMethod.values()].sort((a, b) => a.talk.localeCompare(b.talk));
  }

  /** Longest match of command words at the start of a talk line. */
  matchTalk(line: string): { command: AnyCommand; args: string[]; rest: string } | undefined {
    const words = line.trim().split(/\s+/).filter(Boolean);
    for (let n = Math.min(words.length, 4); n > 0; n--) {
      const command = this.#byTalk.get(words.slice(0, n).join(' '));
      if (!command) continue;
      return { command, args: words.slice(n), rest: stripWords(line, n) };
    }
    return undefined;
  }

  /**
   * Why a talk line matched nothing: `unknown command "proxy frob" (proxy commands: proxy info, …)`
   * when its first word starts some commands, else `unknown command "frob"; try 'help'`.
   */
  unknownTalk(line: string): string {
    const words = line.trim().split(/\s+/).filter(Boolean);
    const topic = [...this.#byTalk.keys()].filter((t) => t.startsWith(`${words[0]} `)).sort();
    if (topic.length === 0) return `unknown command "${words[0]}"; try 'help'`;
    return `unknown command "${words.slice(0, 2).join(' ')}" (${words[0]} commands: ${topic.join(', ')})`;
  }

  /** Validates params against the command's schema and runs it. */
  async invoke(command: AnyCommand, params: unknown, ctx: CallContext): Promise<unknown> {
    const parsed = command.params.safeParse(params ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => (i.path.length ? `${formatPath(i.path)}: ${i.message}` : i.message));
      throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command.talk}: ${problems.join('; ')}`);
    }
    return await command.handler(parsed.data, ctx);
  }

  /** Talk arguments → params, with a usage error when their number is wrong. */
  talkParams(command: AnyCommand, args: readonly string[], rest: string): unknown {
    if (command.fromTalk) return command.fromTalk(args, rest);
    const names = command.positional ?? [];
    if (args.length !== names.length) {
      if (names.length === 0) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command.talk}: takes no arguments (got "${rest}")`);
      throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command.talk}: usage: ${command.talk} ${command.usage ?? names.map((n) => n.toUpperCase()).join(' ')}`);
    }
    return Object.fromEntries(names.map((name, i) => [name, args[i]]));
  }

  /** A talk reply: the method's renderer from `useTalkRenderers`, else the command's own, else `defaultText`. */
  async renderText(command: AnyCommand, result: unknown): Promise<string> {
    if (this.#loadRenderers) {
      this.#renderers ??= this.#loadRenderers();
      const render = (await this.#renderers)[command.method];
      if (render) return render(result);
    }
    if (command.renderText) return command.renderText(result);
    return defaultText(result);
  }
}

function stripWords(line: string, n: number): string {
  let s = line.trim();
  for (let i = 0; i < n; i++) s = s.replace(/^\S+\s*/, '');
  return s;
}

/** Default talk rendering: OK for void, scalars as is, objects as `key: value` lines. */
export function defaultText(result: unknown): string {
  if (result === undefined || result === null) return 'OK';
  if (typeof result !== 'object') return String(result);
  if (Array.isArray(result)) return result.map((r) => (typeof r === 'object' ? JSON.stringify(r) : String(r))).join('\n');
  return Object.entries(result)
    .map(([k, v]) => `${k}: ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}
