import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Reads a fleet file for `fleet push` / `fleet diff` (the agent validates it; the CLI only needs JSON). */
export async function readFleetFile(path: string, fail: (message: string) => never): Promise<{ document: unknown; source: string }> {
  const source = resolve(path);
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(source, 'utf8');
  } catch (err) {
    return fail(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return { document: JSON.parse(text), source: path === '-' ? 'stdin' : source };
  } catch (err) {
    return fail(`${path}: not valid JSON: ${(err as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}
