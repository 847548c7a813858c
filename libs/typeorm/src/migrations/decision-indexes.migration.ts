import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { defineChronicleMigration, type ChronicleMigrationClass } from './chronicle-migration.js';

/** The tags GIN index of the first migration, as a regclass literal (the name is quoted and schema-qualified, never a caller's text). */
function tagsIndex(t: ChronicleTables): string {
  return `'${t.qualified('events_tags_idx').replace(/'/g, "''")}'::regclass`;
}

function postgresUp(t: ChronicleTables): string[] {
  return [
    // Tags are served by the GIN index of the first migration; type-only query items need this one.
    `CREATE INDEX IF NOT EXISTS ${t.objectName('events_type_idx')} ON ${t.events} (type)`,
    // Every decision reads its tags through the GIN index, and every conditional append checks
    // them. With GIN's default fastupdate, appends add their entries to a pending list that every
    // search reads through in full until (auto)vacuum merges it: on the bench, with 16 callers
    // appending, the index part of a decision's read took about 17 ms with a 251-page list and
    // 0.03 ms without one, most of a decision's cost. Without fastupdate an append updates the
    // index itself (it pays a little more); the pending list already there is merged now.
    `ALTER INDEX ${t.qualified('events_tags_idx')} SET (fastupdate = off)`,
    `SELECT gin_clean_pending_list(${tagsIndex(t)})`,
  ];
}

function sqliteUp(t: ChronicleTables): string[] {
  const eventTags = t.qualified('event_tags');
  return [
    `CREATE INDEX IF NOT EXISTS ${t.objectName('events_type_idx')} ON ${t.events} (type, position)`,
    // SQLite has no index on the elements of a JSON array: a side table of (tag, position) serves
    // tag queries, kept by a trigger so that every insert path (and other tools) fills it.
    `CREATE TABLE IF NOT EXISTS ${eventTags} (
      tag TEXT NOT NULL,
      position INTEGER NOT NULL,
      PRIMARY KEY (tag, position)
    ) WITHOUT ROWID`,
    `CREATE TRIGGER IF NOT EXISTS ${t.objectName('events_tags_trg')} AFTER INSERT ON ${t.events} BEGIN ` +
      `INSERT OR IGNORE INTO ${eventTags} (tag, position) SELECT j.value, NEW.position FROM json_each(NEW.tags) j WHERE j.type = 'text'; END`,
    `INSERT OR IGNORE INTO ${eventTags} (tag, position) SELECT j.value, e.position FROM ${t.events} e, json_each(e.tags) j WHERE j.type = 'text'`,
  ];
}

function down(t: ChronicleTables, dialect: 'postgres' | 'sqlite'): string[] {
  if (dialect === 'postgres') return [`ALTER INDEX IF EXISTS ${t.qualified('events_tags_idx')} RESET (fastupdate)`, `DROP INDEX IF EXISTS ${t.qualified('events_type_idx')}`];
  return [
    `DROP TRIGGER IF EXISTS ${t.objectName('events_tags_trg')}`,
    `DROP TABLE IF EXISTS ${t.qualified('event_tags')}`,
    `DROP INDEX IF EXISTS ${t.objectName('events_type_idx')}`,
  ];
}

/**
 * The fourth Chronicle migration: what queries by event type and tag (`Journal.readByQuery`, the
 * conditions of conditional appends) need to be served by an index. PostgreSQL: an index on the
 * event type, and the tags GIN index without fastupdate (no pending list for searches to read). SQLite: an index on (type, position), and an `event_tags` side table filled by a
 * trigger (and from the events already stored). Idempotent, like the others.
 */
export function decisionIndexesMigration(options: ChronicleTableOptions | undefined): ChronicleMigrationClass {
  return defineChronicleMigration('ChronicleDecisionIndexes1767657600000', options, { postgres: postgresUp, sqlite: sqliteUp, down });
}
