import { EntitySchema } from 'typeorm';
import type { SagaInstance } from '@chronicle/core';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>saga_states`: one saga instance: the port's `SagaInstance` record. */
export type ChronicleSagaStateRow = SagaInstance;

/**
 * The `<prefix>saga_states` table as a TypeORM entity, for reading saga instances with TypeORM.
 * Change instances through the `SagaStore` only: it keeps their versions (optimistic
 * concurrency) and deadlines consistent. Schema sync is off: migrations own the DDL.
 */
export function createSagaStateEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleSagaStateRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleSagaStateRow>({
    name: kit.entityName('saga_states'),
    tableName: kit.tableName('saga_states'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      sagaName: { name: 'saga_name', type: 'text', primary: true },
      correlationId: { name: 'correlation_id', type: 'text', primary: true },
      state: { type: kit.json },
      stateVersion: { name: 'state_version', type: 'integer' },
      version: { type: 'integer' },
      status: { type: 'text' },
      startedAt: { name: 'started_at', type: kit.timestamp },
      updatedAt: { name: 'updated_at', type: kit.timestamp },
      endedAt: { name: 'ended_at', type: kit.timestamp, nullable: true },
    },
  });
}
