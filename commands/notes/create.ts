import { Flags } from '@oclif/core';
import type { Note } from '../../src/deploy/data-proxy/protocol.js';
import { NotesCommand } from '../../src/cli/notes-command.js';

export default class NotesCreate extends NotesCommand {
  static override summary = 'Create a note and print its id';
  static override description = 'Calls CreateNote on the data proxy; prints the new id (a UUID), or the whole note with --json.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> notes create --title groceries --body "eggs, milk"', 'id=$(<%= config.bin %> notes create --title t --body b)'];
  static override flags = {
    title: Flags.string({ char: 't', description: 'title of the note', required: true }),
    body: Flags.string({ char: 'b', description: 'text of the note', required: true }),
  };

  async run(): Promise<Note> {
    const { flags } = await this.parse(NotesCreate);
    const note = await this.withNotes(flags, (c) => c.createNote(flags.title, flags.body));
    this.log(note.id);
    return note;
  }
}
