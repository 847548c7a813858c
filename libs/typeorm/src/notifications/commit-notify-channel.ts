import { createHash } from 'node:crypto';
import { DEFAULT_TABLE_PREFIX, type ChronicleTableOptions } from '../table-options.js';
import { MAX_NOTIFY_CHANNEL_BYTES } from '../outbox/outbox-notify-channel.js';

/**
 * The one PostgreSQL channel of a `createTypeOrmStorage` bundle: notified (the unit's origin as
 * payload, once per transaction) whenever a transaction committed events or outbox entries, so it
 * wakes the relay and the subscriptions alike. `chronicle_commits` by default, otherwise named after the schema
 * and prefix (`<schema>.<prefix>commits`) so two installs in one database do not wake each other;
 * a name longer than PostgreSQL allows becomes the prefix and a hash of the full name.
 */
export function commitNotifyChannel(options: ChronicleTableOptions = {}): string {
  const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  const name = options.schema === undefined ? `${prefix}commits` : `${options.schema}.${prefix}commits`;
  if (Buffer.byteLength(name, 'utf8') <= MAX_NOTIFY_CHANNEL_BYTES) return name;
  return `${prefix}commits_${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}
