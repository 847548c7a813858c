import type { ChronicleTableOptions } from '../table-options.js';
import type { ChronicleMigrationClass } from './chronicle-migration.js';
import { decisionIndexesMigration } from './decision-indexes.migration.js';
import { keyTablesMigration } from './key-tables.migration.js';
import { journalTablesMigration } from './journal-tables.migration.js';
import { outboxTablesMigration } from './outbox-tables.migration.js';
import { subscriptionTablesMigration } from './subscription-tables.migration.js';

/**
 * Chronicle's migrations for a prefix and schema, oldest first. Pass them to
 * `runChronicleMigrations`, or list them in the DataSource's `migrations` for the TypeORM CLI
 * (their DDL is idempotent, so doing both is safe). Never rely on `synchronize` for these tables.
 * The class names do not carry the prefix, so list one prefix's migrations per DataSource for the CLI.
 */
export function createChronicleMigrations(options?: ChronicleTableOptions): ChronicleMigrationClass[] {
  return [
    journalTablesMigration(options),
    outboxTablesMigration(options),
    subscriptionTablesMigration(options),
    keyTablesMigration(options),
    decisionIndexesMigration(options),
  ];
}
