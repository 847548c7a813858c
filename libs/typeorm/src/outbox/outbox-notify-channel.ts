import { createHash } from 'node:crypto';
import { DEFAULT_TABLE_PREFIX, type ChronicleTableOptions } from '../table-options.js';

/** The longest channel name PostgreSQL accepts (NAMEDATALEN - 1 bytes). */
export const MAX_NOTIFY_CHANNEL_BYTES = 63;

/**
 * The PostgreSQL channel a `TypeOrmOutboxStore` notifies when a transaction wrote outbox entries:
 * `chronicle_outbox` by default, and otherwise named after the schema and prefix
 * (`<schema>.<prefix>outbox`), so two Chronicle installs in one database do not wake each other.
 * A name longer than PostgreSQL allows is shortened to the prefix and a hash of the full name.
 */
export function outboxNotifyChannel(options: ChronicleTableOptions = {}): string {
  const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  const name = options.schema === undefined ? `${prefix}outbox` : `${options.schema}.${prefix}outbox`;
  if (Buffer.byteLength(name, 'utf8') <= MAX_NOTIFY_CHANNEL_BYTES) return name;
  return `${prefix}outbox_${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}
