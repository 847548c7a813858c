import type { EntitySchema } from 'typeorm';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import type { ChronicleCheckpointRow } from './checkpoint.entity.js';
import { createCheckpointEntity } from './checkpoint.entity.js';
import type { ChronicleCommandRow } from './command.entity.js';
import { createCommandEntity } from './command.entity.js';
import type { ChronicleDataKeyRow } from './data-key.entity.js';
import { createDataKeyEntity } from './data-key.entity.js';
import type { ChronicleEventRow } from './event.entity.js';
import { createEventEntity } from './event.entity.js';
import type { ChronicleInboxRow } from './inbox.entity.js';
import { createInboxEntity } from './inbox.entity.js';
import type { ChronicleOutboxHandlerRow } from './outbox-handler.entity.js';
import { createOutboxHandlerEntity } from './outbox-handler.entity.js';
import type { ChronicleOutboxRow } from './outbox.entity.js';
import { createOutboxEntity } from './outbox.entity.js';
import type { ChronicleParkedEventRow } from './parked-event.entity.js';
import { createParkedEventEntity } from './parked-event.entity.js';
import type { ChronicleSagaDeadlineRow } from './saga-deadline.entity.js';
import { createSagaDeadlineEntity } from './saga-deadline.entity.js';
import type { ChronicleSagaStateRow } from './saga-state.entity.js';
import { createSagaStateEntity } from './saga-state.entity.js';
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
  checkpoint: EntitySchema<ChronicleCheckpointRow>;
  parkedEvent: EntitySchema<ChronicleParkedEventRow>;
  sagaState: EntitySchema<ChronicleSagaStateRow>;
  sagaDeadline: EntitySchema<ChronicleSagaDeadlineRow>;
  /** The wrapped data keys of crypto-shredding. */
  dataKey: EntitySchema<ChronicleDataKeyRow>;
  /** All of the above, for a DataSource's `entities` list. */
  all: EntitySchema[];
}

/**
 * Builds the entities for a prefix and schema chosen at runtime. Registering them is optional
 * (the adapters use SQL); they let an application read the journal through TypeORM. Their
 * schema sync is off: the tables come from `createChronicleMigrations`.
 */
export function createChronicleEntities(options: ChronicleEntityOptions = {}): ChronicleEntities {
  const stream = createStreamEntity(options);
  const event = createEventEntity(options);
  const command = createCommandEntity(options);
  const snapshot = createSnapshotEntity(options);
  const outbox = createOutboxEntity(options);
  const outboxHandler = createOutboxHandlerEntity(options);
  const inbox = createInboxEntity(options);
  const checkpoint = createCheckpointEntity(options);
  const parkedEvent = createParkedEventEntity(options);
  const sagaState = createSagaStateEntity(options);
  const sagaDeadline = createSagaDeadlineEntity(options);
  const dataKey = createDataKeyEntity(options);
  return {
    stream,
    event,
    command,
    snapshot,
    outbox,
    outboxHandler,
    inbox,
    checkpoint,
    parkedEvent,
    sagaState,
    sagaDeadline,
    dataKey,
    all: [stream, event, command, snapshot, outbox, outboxHandler, inbox, checkpoint, parkedEvent, sagaState, sagaDeadline, dataKey] as EntitySchema[],
  };
}
