import { existsSync, readFileSync } from 'node:fs';
import type { DataSource } from 'typeorm';
import type { ChronicleTableOptions } from '@chronicle/typeorm';

/**
 * The forms a value can take in a store: UTF-8, JSON-escaped, base64 (at each of the three byte
 * alignments inside a longer base64 text), hex, UTF-16, URL-encoded.
 */
export function encodingsOf(value: string): string[] {
  const utf8 = Buffer.from(value, 'utf8');
  const forms = new Set<string>([value, JSON.stringify(value).slice(1, -1), JSON.stringify(JSON.stringify(value)).slice(1, -1)]);
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), utf8]).toString('base64');
    // Drop the characters that depend on the bytes around the value.
    forms.add(b64.slice(pad === 0 ? 0 : pad + 1, -4));
    forms.add(b64.slice(pad === 0 ? 0 : pad + 1, -4).replace(/\+/g, '-').replace(/\//g, '_'));
  }
  forms.add(utf8.toString('hex'));
  forms.add(utf8.toString('hex').toUpperCase());
  forms.add(Buffer.from(value, 'utf16le').toString('latin1'));
  forms.add(encodeURIComponent(value));
  return [...forms].filter((form) => form.length >= 6);
}

/** Every row of every Chronicle table (and the extra tables named), as text; bytea and blobs as hex and base64. */
export async function dumpTables(dataSource: DataSource, tables: ChronicleTableOptions, extra: readonly string[] = []): Promise<string> {
  const prefix = tables.tablePrefix ?? 'chronicle_';
  const isPostgres = dataSource.options.type === 'postgres';
  const names = isPostgres
    ? ((await dataSource.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1', [tables.schema])) as { name: string }[])
    : ((await dataSource.query("SELECT name FROM sqlite_master WHERE type = 'table'")) as { name: string }[]);
  const chosen = names.map((row) => row.name).filter((name) => name.startsWith(prefix) || extra.includes(name));
  if (chosen.length < 10) throw new Error(`expected every Chronicle table, found ${chosen.join(', ')}`);
  let dump = '';
  for (const name of chosen.sort()) {
    const qualified = isPostgres ? `"${tables.schema}"."${name}"` : `"${name}"`;
    const rows = (await dataSource.query(isPostgres ? `SELECT row_to_json(t)::text AS row FROM ${qualified} t` : `SELECT * FROM ${qualified}`)) as unknown[];
    dump += `${name}\n`;
    for (const row of rows) {
      dump += `${JSON.stringify(row, (_key, value: unknown) => (Buffer.isBuffer(value) ? `${value.toString('hex')} ${value.toString('base64')}` : value))}\n`;
    }
  }
  return dump;
}

/** The raw bytes of a SQLite database file and its WAL, as latin1 text (every byte one character). */
export function sqliteFileBytes(dataSource: DataSource): string {
  const file = dataSource.options.database as string;
  let bytes = readFileSync(file).toString('latin1');
  if (existsSync(`${file}-wal`)) bytes += readFileSync(`${file}-wal`).toString('latin1');
  return bytes;
}

/** The forms of `value` found in `text` (none, when it is not there in any encoding). */
export function formsFound(text: string, value: string): string[] {
  const latin1 = Buffer.from(text, 'latin1').toString('latin1');
  return encodingsOf(value).filter((form) => text.includes(form) || latin1.includes(Buffer.from(form, 'utf8').toString('latin1')));
}
