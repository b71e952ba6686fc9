import { ProxyctlError } from '../../errors.js';

/**
 * Parameter checks for the data proxy's methods. Params are by name (an
 * object); methods without parameters also accept none, `{}` or `[]`. Every
 * message names the method and the parameter.
 */

export class InvalidParamsError extends ProxyctlError {
  constructor(
    readonly method: string,
    readonly param: string,
    message: string,
  ) {
    super('PXC_ERR_BAD_PARAMS', `${method}: ${param}: ${message}`);
    this.name = 'InvalidParamsError';
  }
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** The params object with only `allowed` keys; `required` of them must be strings. */
function fields(method: string, params: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (params === undefined || (Array.isArray(params) && params.length === 0 && allowed.length === 0)) return {};
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new InvalidParamsError(method, 'params', `must be an object of named parameters, got ${typeName(params)}`);
  }
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      const known = allowed.length ? `expected ${allowed.join(', ')}` : 'the method takes no parameters';
      throw new InvalidParamsError(method, key, `unknown parameter (${known})`);
    }
  }
  return params as Record<string, unknown>;
}

function str(method: string, p: Record<string, unknown>, name: string, opts: { optional?: boolean; nonEmpty?: boolean } = {}): string | undefined {
  const v = p[name];
  if (v === undefined) {
    if (opts.optional) return undefined;
    throw new InvalidParamsError(method, name, 'required');
  }
  if (typeof v !== 'string') throw new InvalidParamsError(method, name, `must be a string, got ${typeName(v)}`);
  if (opts.nonEmpty && v.length === 0) throw new InvalidParamsError(method, name, 'must not be empty');
  return v;
}

export function noParams(method: string, params: unknown): void {
  fields(method, params, []);
}

export function idParams(method: string, params: unknown): { id: string } {
  const p = fields(method, params, ['id']);
  return { id: str(method, p, 'id', { nonEmpty: true })! };
}

export function createParams(params: unknown): { title: string; body: string } {
  const p = fields('CreateNote', params, ['title', 'body']);
  return { title: str('CreateNote', p, 'title')!, body: str('CreateNote', p, 'body')! };
}

export function updateParams(params: unknown): { id: string; title?: string | undefined; body?: string | undefined } {
  const p = fields('UpdateNote', params, ['id', 'title', 'body']);
  const id = str('UpdateNote', p, 'id', { nonEmpty: true })!;
  const title = str('UpdateNote', p, 'title', { optional: true });
  const body = str('UpdateNote', p, 'body', { optional: true });
  if (title === undefined && body === undefined) throw new InvalidParamsError('UpdateNote', 'title', 'give title, body or both');
  return { id, title, body };
}
