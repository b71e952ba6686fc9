import { Args, Flags } from '@oclif/core';
import type { Note } from '../../src/deploy/data-proxy/protocol.js';
import { NotesCommand } from '../../src/cli/notes-command.js';
import { changed } from '../../src/ui/outcome.js';

export default class NotesUpdate extends NotesCommand {
  static override summary = 'Change the title and/or body of a note';
  static override description = 'Calls UpdateNote on the data proxy; what is not given is kept. A missing id fails with PXC_ERR_UNKNOWN_NOTE (exit 1).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> notes update 3f0c… --title "new title"', '<%= config.bin %> notes update 3f0c… --body "new text"'];
  static override args = {
    id: Args.string({ description: 'note id', required: true }),
  };
  static override flags = {
    title: Flags.string({ char: 't', description: 'new title' }),
    body: Flags.string({ char: 'b', description: 'new text' }),
  };

  async run(): Promise<Note> {
    const { args, flags } = await this.parse(NotesUpdate);
    if (flags.title === undefined && flags.body === undefined) this.usage('give --title, --body or both');
    const patch = { ...(flags.title !== undefined ? { title: flags.title } : {}), ...(flags.body !== undefined ? { body: flags.body } : {}) };
    const note = await this.withNotes(flags, (c) => c.updateNote(args.id, patch));
    this.log(changed(`note ${note.id}`, 'updated'));
    return note;
  }
}
