import { Args } from '@oclif/core';
import type { Note } from '../../src/deploy/data-proxy/protocol.js';
import { NotesCommand } from '../../src/cli/notes-command.js';
import { renderKeyValues } from '../../src/ui/table.js';

export default class NotesGet extends NotesCommand {
  static override summary = 'Show one note';
  static override description = 'Calls ReadNote on the data proxy. A missing id fails with PXC_ERR_UNKNOWN_NOTE (exit 1).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> notes get 3f0c…', '<%= config.bin %> notes get 3f0c… --json'];
  static override args = {
    id: Args.string({ description: 'note id (as printed by notes create or notes list)', required: true }),
  };

  async run(): Promise<Note> {
    const { args, flags } = await this.parse(NotesGet);
    const note = await this.withNotes(flags, (c) => c.readNote(args.id));
    this.log(renderKeyValues({ id: note.id, title: note.title, created: note.created_at, updated: note.updated_at }));
    this.log('');
    this.log(note.body);
    return note;
  }
}
