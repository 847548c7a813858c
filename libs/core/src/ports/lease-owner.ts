import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A new owner id for the leases a worker takes (outbox claims, subscription checkpoints, saga
 * deadlines): `host:pid:uuid8`. Host and pid tell an operator which process holds a lease; the
 * random part keeps two workers of one process (or a restarted process that got the same pid)
 * from passing for each other, which would let one extend or release the other's lease.
 */
export function newLeaseOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}
