import { EntitySchema } from 'typeorm';
import type { Checkpoint } from '@chronicle/core';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>checkpoints`: a subscription's position, lease and last error: the port's `Checkpoint` record. */
export type ChronicleCheckpointRow = Checkpoint;

/**
 * The `<prefix>checkpoints` table as a TypeORM entity, for reading subscription progress with
 * TypeORM (dashboards, admin tools). Change checkpoints through the `CheckpointStore` only: it
 * keeps leases and fencing intact. Schema sync is off: migrations own the DDL.
 */
export function createCheckpointEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleCheckpointRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleCheckpointRow>({
    name: kit.entityName('checkpoints'),
    tableName: kit.tableName('checkpoints'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      name: { type: 'text', primary: true },
      position: { type: 'text', nullable: true },
      leaseOwner: { name: 'lease_owner', type: 'text', nullable: true },
      leaseUntil: { name: 'lease_until', type: kit.timestamp, nullable: true },
      lastError: { name: 'last_error', type: 'text', nullable: true },
      updatedAt: { name: 'updated_at', type: kit.timestamp },
    },
  });
}
