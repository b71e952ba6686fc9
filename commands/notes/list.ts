import type { Note } from '../../src/deploy/data-proxy/protocol.js';
import { NotesCommand } from '../../src/cli/notes-command.js';
import { renderTable } from '../../src/ui/table.js';

export default class NotesList extends NotesCommand {
  static override summary = 'List every note of the NoteStore, oldest first';
  static override description = 'Calls ListNotes on the data proxy: by default through the app serving the "notes" service, or at --url.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> notes list', '<%= config.bin %> notes list --json', '<%= config.bin %> notes list --url http://127.0.0.1:7001'];

  async run(): Promise<Note[]> {
    const { flags } = await this.parse(NotesList);
    const notes = await this.withNotes(flags, (c) => c.listNotes());
    if (notes.length === 0) this.log('no notes');
    else this.log(renderTable(['id', 'title', 'updated', 'body'], notes.map((n) => [n.id, n.title, n.updated_at, preview(n.body)])));
    return notes;
  }
}

/** First line of the body, at most 40 characters. */
function preview(body: string): string {
  const line = body.split('\n', 1)[0]!;
  return line.length > 40 || line.length < body.length ? `${line.slice(0, 39)}…` : line;
}
