import { Chalk, type ChalkInstance } from 'chalk';

/** Colour only on a TTY, never with NO_COLOR set (https://no-color.org). */
export function colourEnabled(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

export function makeChalk(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  return new Chalk({ level: colourEnabled(stream) ? 1 : 0 });
}

/** Colours a state word the same way everywhere: healthy/done green, failing red, in between yellow. */
export function stateColour(c: ChalkInstance, state: string): string {
  if (/^(up|healthy|done|succeeded|ready|enabled|active|listening|running|ok)$/i.test(state)) return c.green(state);
  if (/^(down|unhealthy|failed|error|disabled|exited|dead)$/i.test(state)) return c.red(state);
  if (/^(draining|paused|queued|verifying|degraded|slow|rollout.*|starting)$/i.test(state)) return c.yellow(state);
  return state;
}
