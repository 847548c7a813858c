import type { EntityManager } from 'typeorm';
import { OnBatch, Projection, type ProjectionBatchContext, type ProjectionBatchEvent } from '@chronicle/core';
import { Posted } from './bench-ledger.aggregate.js';

/**
 * The feed scenario's batch projection: each stream's total of Posted amounts, kept a batch at a
 * time. Per batch (one checkpoint transaction), the amounts are summed per stream and written in
 * one multi-row upsert through the transaction's EntityManager (exactly once with the checkpoint).
 */
@Projection({ name: 'bench-ledger-totals' })
export class LedgerTotalsProjection {
  private readonly upsert: string;

  /** `table`: the qualified name of a `(stream_id text PRIMARY KEY, total bigint NOT NULL)` table. */
  constructor(table: string) {
    // One row per stream: ON CONFLICT DO UPDATE may not touch a row twice in one statement.
    this.upsert =
      `INSERT INTO ${table} AS t (stream_id, total) SELECT * FROM unnest($1::text[], $2::bigint[]) ` +
      'ON CONFLICT (stream_id) DO UPDATE SET total = t.total + EXCLUDED.total';
  }

  @OnBatch(Posted)
  async posted(events: ProjectionBatchEvent[], { tx }: ProjectionBatchContext<EntityManager>): Promise<void> {
    const totals = new Map<string, number>();
    for (const { event, envelope } of events) {
      if (!(event instanceof Posted)) throw new Error(`expected a Posted event, got ${event.constructor.name}`);
      totals.set(envelope.streamId, (totals.get(envelope.streamId) ?? 0) + event.amount);
    }
    await tx.query(this.upsert, [[...totals.keys()], [...totals.values()]]);
  }
}
