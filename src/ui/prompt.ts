/**
 * The CLI's interactive prompts (enquirer, only on a terminal). Ctrl-C or Esc
 * at a prompt becomes PromptCancelled, which the CLI turns into a quiet exit
 * 130 (enquirer itself rejects with an empty string, not an Error).
 */

export class PromptCancelled extends Error {
  constructor() {
    super('cancelled at the prompt');
    this.name = 'PromptCancelled';
  }
}

async function ask<T>(question: Record<string, unknown>): Promise<T> {
  const { default: enquirer } = await import('enquirer');
  try {
    const answer = await enquirer.prompt<{ value: T }>({ ...question, name: 'value' } as Parameters<typeof enquirer.prompt>[0]);
    return answer.value;
  } catch (err) {
    if (err instanceof Error) throw err;
    throw new PromptCancelled();
  }
}

/** A line of text, `initial` filled in for editing. */
export function askText(message: string, opts: { initial?: string; validate?: (v: string) => true | string } = {}): Promise<string> {
  return ask<string>({ type: 'input', message, initial: opts.initial, validate: opts.validate });
}

/**
 * Yes or no. A destructive change defaults to No (Enter keeps things as
 * they are). The answer shows as `yes` or `no`.
 */
export function askConfirm(message: string, opts: { destructive: boolean }): Promise<boolean> {
  return ask<boolean>({
    type: 'confirm',
    message,
    initial: !opts.destructive,
    format(this: { state: { submitted: boolean } }, value: boolean) {
      return this.state.submitted ? (value ? 'yes' : 'no') : '';
    },
  });
}
