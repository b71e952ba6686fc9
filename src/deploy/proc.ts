import { readdirSync, readFileSync } from 'node:fs';

/**
 * What /proc says about a process: enough to tell whether a pid recorded
 * earlier is still the same process (pid numbers are reused; a pid with the
 * same start time is the same process) and which process group it is in.
 */

export interface ProcInfo {
  pid: number;
  /** Process group id. */
  pgid: number;
  /** Start time, in clock ticks after boot (field 22 of /proc/PID/stat). */
  startTime: number;
}

/** `/proc/PID/stat` of a live process, or null when there is none (or no /proc). */
export function procInfo(pid: number): ProcInfo | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): pgrp is field 5, starttime field 22.
  const pgid = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (fields[0] === 'Z' || !Number.isFinite(pgid) || !Number.isFinite(startTime)) return null; // a zombie is gone already
  return { pid, pgid, startTime };
}

/** Every live process in group `pgid`. */
export function processGroup(pgid: number): ProcInfo[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: ProcInfo[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info && info.pgid === pgid) members.push(info);
  }
  return members;
}

/** The value of `name` in the environment of `pid`, if it can be read. */
export function procEnv(pid: number, name: string): string | undefined {
  try {
    const prefix = `${name}=`;
    return readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .find((e) => e.startsWith(prefix))
      ?.slice(prefix.length);
  } catch {
    return undefined;
  }
}
