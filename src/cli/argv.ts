/**
 * Global flags given before the command (`proxyctl --socket X agent status`,
 * as kubectl and systemctl take them): oclif reads the first words as the
 * command, so they move to the end, where every command accepts them. Only
 * the flags every client command has (ClientCommand.baseFlags) move; the
 * rest of argv is left as it is, and `--` ends the search.
 */
const GLOBAL_WITH_VALUE = new Set(['--socket', '--state-dir']);

export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const moved: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq === -1 ? a : a.slice(0, eq);
    if (!GLOBAL_WITH_VALUE.has(name)) break;
    if (eq !== -1) {
      moved.push(a);
      i += 1;
    } else {
      if (i + 1 >= argv.length) break;
      moved.push(a, argv[i + 1]!);
      i += 2;
    }
  }
  if (moved.length === 0 || i >= argv.length) return [...argv];
  const rest = argv.slice(i);
  const dashdash = rest.indexOf('--');
  return dashdash === -1 ? [...rest, ...moved] : [...rest.slice(0, dashdash), ...moved, ...rest.slice(dashdash)];
}
