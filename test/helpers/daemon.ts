import { spawnSync } from 'node:child_process';
import { probeTcp } from '../../src/net/tcp-probe.js';

/**
 * What the helpers that run a real Debian daemon (nginx, tinyproxy, squid)
 * share: whether its binary is installed, and whether its port accepts yet.
 */

const installed = new Map<string, boolean>();

/** `BIN -v` runs (asked once per binary): the daemon's tests skip where it is missing. */
export function hasBinary(bin: string): boolean {
  let ok = installed.get(bin);
  if (ok === undefined) installed.set(bin, (ok = spawnSync(bin, ['-v'], { stdio: 'ignore' }).status === 0));
  return ok;
}

/** 127.0.0.1:PORT accepts a connection (the daemon is listening). */
export async function accepts(port: number): Promise<boolean> {
  return (await probeTcp('127.0.0.1', port, 1000)).ok;
}
