import { EntitySchema } from 'typeorm';
import type { SagaDeadline } from '@chronicle/core';
import type { StoredRecord } from './stored-record.js';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>saga_deadlines`: a saga timeout, pending, fired or parked: the port's `SagaDeadline` record with its table-only columns. */
export interface ChronicleSagaDeadlineRow extends StoredRecord<SagaDeadline> {
  /** The deadline runner holding the deadline, if any. */
  leaseOwner: string | null;
  /** When that lease runs out. */
  leaseUntil: Date | null;
  /** When the deadline fired (kept until pruned). */
  firedAt: Date | null;
  createdAt: Date;
}

/**
 * The `<prefix>saga_deadlines` table as a TypeORM entity, for reading deadlines with TypeORM.
 * Change deadlines through the `SagaStore` only: it keeps their leases fenced. Schema sync is
 * off: migrations own the DDL.
 */
export function createSagaDeadlineEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleSagaDeadlineRow> {
  const kit = entityColumnKit(options);
  const nullableTimestamp = { type: kit.timestamp, nullable: true } as const;
  return new EntitySchema<ChronicleSagaDeadlineRow>({
    name: kit.entityName('saga_deadlines'),
    tableName: kit.tableName('saga_deadlines'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      id: { type: 'text', primary: true },
      sagaName: { name: 'saga_name', type: 'text' },
      correlationId: { name: 'correlation_id', type: 'text' },
      name: { type: 'text' },
      dueAt: { name: 'due_at', type: kit.timestamp },
      payload: { type: kit.json, nullable: true },
      attempts: { type: 'integer', default: 0 },
      lastError: { name: 'last_error', type: 'text', nullable: true },
      leaseOwner: { name: 'lease_owner', type: 'text', nullable: true },
      leaseUntil: { name: 'lease_until', ...nullableTimestamp },
      firedAt: { name: 'fired_at', ...nullableTimestamp },
      parkedAt: { name: 'parked_at', ...nullableTimestamp },
      createdAt: { name: 'created_at', type: kit.timestamp },
    },
  });
}
