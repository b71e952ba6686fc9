import { distance } from 'fastest-levenshtein';

/**
 * The words of an unknown command as the user typed them. oclif joins them
 * with ":" into one id, so `download ad http://x` arrives as
 * `download:ad:http://x`: the words are read back from argv when they spell
 * the id, else split at ":".
 */
export function typedWords(id: string, argv: readonly string[]): string[] {
  const words: string[] = [];
  for (const a of argv) {
    if (words.join(':') === id) break;
    if (a.startsWith('-')) continue;
    words.push(a);
  }
  return words.length > 0 && words.join(':') === id ? words : id.split(':');
}

/** Close enough to be a typo: at most 2 edits, and at most a third of the word. */
const near = (typed: string, known: string): boolean => {
  const d = distance(typed, known);
  return d <= 2 && d <= Math.ceil(known.length / 3);
};

/**
 * The command (or topic) the user most likely meant, as words joined by
 * spaces (`download list`), or null. Each typed word is matched against the
 * known words at its place (topics first, then their commands), so
 * `downlod list` finds `download list` and `download ad URL` finds `download add`.
 */
export function didYouMean(words: readonly string[], commandIds: readonly string[], topics: readonly string[]): string | null {
  const commands = commandIds.map((id) => id.split(':'));
  const firsts = [...new Set([...commands.map((c) => c[0]!), ...topics.filter((t) => !t.includes(':'))])];
  const first = pick(words[0] ?? '', firsts);
  if (first === null) return null;
  const under = commands.filter((c) => c[0] === first && c.length > 1).map((c) => c[1]!);
  if (under.length === 0 || words.length < 2) return first === words[0] ? null : first;
  const second = pick(words[1]!, under);
  if (second === null) return first === words[0] ? null : first;
  const guess = `${first} ${second}`;
  return guess === words.slice(0, 2).join(' ') ? null : guess;
}

/** The known word nearest to `typed` if it is a typo of it (ties: the first listed). */
function pick(typed: string, known: readonly string[]): string | null {
  if (known.includes(typed)) return typed;
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    if (!near(typed, k)) continue;
    const d = distance(typed, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}
