import type { PrettyOptions } from 'pino-pretty';

/**
 * How the agent's pino lines look to a human: pino-pretty, one line each
 * (`[2026-01-02 03:04:05.678] INFO: deploy 2 of notes succeeded {"service":"notes"}`),
 * the same for a foreground agent on a terminal and for `proxyctl agent logs`.
 */
export function prettyOptions(colorize: boolean): PrettyOptions {
  return { colorize, singleLine: true, ignore: 'pid,hostname', translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l' };
}

/** A function from one JSON log line to its pretty form (a line that is not JSON comes back as it is). */
export async function prettyLine(colorize: boolean): Promise<(line: string) => string> {
  const { prettyFactory } = await import('pino-pretty');
  const pretty = prettyFactory(prettyOptions(colorize));
  return (line) => {
    const out = pretty(line);
    return out.endsWith('\n') ? out.slice(0, -1) : out;
  };
}
