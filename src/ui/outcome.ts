/**
 * One wording, in every command, for what a state-changing command did and
 * for a list with nothing in it: `download 2: paused`, `web 127.0.0.1:81:
 * draining`, `proxy group: [1] http://b:3128 (revision 4)`; `no download jobs`.
 */

/** `SUBJECT: NEW STATE`. */
export function changed(subject: string, state: string): string {
  return `${subject}: ${state}`;
}

/** `download 2: paused` … one line per job, or `no downloads to VERB` when none changed. */
export function jobsChanged(ids: readonly number[], state: string, verb: string): string {
  return ids.length === 0 ? nothing(`downloads to ${verb}`) : ids.map((id) => changed(`download ${id}`, state)).join('\n');
}

/** `no THINGS`. */
export function nothing(things: string): string {
  return `no ${things}`;
}
