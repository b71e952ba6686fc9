import { Args } from '@oclif/core';
import { NotesCommand } from '../../src/cli/notes-command.js';
import { changed } from '../../src/ui/outcome.js';

export default class NotesDelete extends NotesCommand {
  static override summary = 'Delete a note';
  static override description = 'Calls DeleteNote on the data proxy. A missing id fails with PXC_ERR_UNKNOWN_NOTE (exit 1).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> notes delete 3f0c…'];
  static override args = {
    id: Args.string({ description: 'note id', required: true }),
  };

  async run(): Promise<{ deleted: true; id: string }> {
    const { args, flags } = await this.parse(NotesDelete);
    const result = await this.withNotes(flags, (c) => c.deleteNote(args.id));
    this.log(changed(`note ${result.id}`, 'deleted'));
    return result;
  }
}
