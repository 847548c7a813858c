import type { EntitySchema } from 'typeorm';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import type { ChronicleCommandRow } from './command.entity.js';
import { createCommandEntity } from './command.entity.js';
import type { ChronicleEventRow } from './event.entity.js';
import { createEventEntity } from './event.entity.js';
import type { ChronicleInboxRow } from './inbox.entity.js';
import { createInboxEntity } from './inbox.entity.js';
import type { ChronicleOutboxHandlerRow } from './outbox-handler.entity.js';
import { createOutboxHandlerEntity } from './outbox-handler.entity.js';
import type { ChronicleOutboxRow } from './outbox.entity.js';
import { createOutboxEntity } from './outbox.entity.js';
import type { ChronicleSnapshotRow } from './snapshot.entity.js';
import { createSnapshotEntity } from './snapshot.entity.js';
import type { ChronicleStreamRow } from './stream.entity.js';
import { createStreamEntity } from './stream.entity.js';

/** Chronicle's tables as TypeORM entities. */
export interface ChronicleEntities {
  stream: EntitySchema<ChronicleStreamRow>;
  event: EntitySchema<ChronicleEventRow>;
  command: EntitySchema<ChronicleCommandRow>;
  snapshot: EntitySchema<ChronicleSnapshotRow>;
  outbox: EntitySchema<ChronicleOutboxRow>;
  outboxHandler: EntitySchema<ChronicleOutboxHandlerRow>;
  inbox: EntitySchema<ChronicleInboxRow>;
  /** All of the above, for a DataSource's `entities` list. */
  all: EntitySchema[];
}

/**
 * Builds the entities for a prefix and schema chosen at runtime. Registering them is optional
 * (the adapters use SQL); they let an application read the journal through TypeORM. Their
 * schema sync is off: the tables come from `createChronicleMigrations`.
 */
export function createChronicleEntities(options: ChronicleEntityOptions): ChronicleEntities {
  const stream = createStreamEntity(options);
  const event = createEventEntity(options);
  const command = createCommandEntity(options);
  const snapshot = createSnapshotEntity(options);
  const outbox = createOutboxEntity(options);
  const outboxHandler = createOutboxHandlerEntity(options);
  const inbox = createInboxEntity(options);
  return {
    stream,
    event,
    command,
    snapshot,
    outbox,
    outboxHandler,
    inbox,
    all: [stream, event, command, snapshot, outbox, outboxHandler, inbox] as EntitySchema[],
  };
}
