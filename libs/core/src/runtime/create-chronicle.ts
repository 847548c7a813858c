import { Chronicle, type ChronicleConfig } from './chronicle.js';

/**
 * Builds a framework-free Chronicle runtime (no I/O yet): call `start()` to migrate and run the
 * background work, `execute` / `read` / `readAt` for commands and state, `stop()` to drain.
 *
 * ```ts
 * const chronicle = createChronicle({ storage: createInMemoryStorage(), aggregates: [Account], projections: [new Balances()] });
 * await chronicle.start();
 * await chronicle.execute(new OpenAccount('acc-1', 100));
 * await chronicle.stop();
 * ```
 */
export function createChronicle<Tx = unknown>(config: ChronicleConfig<Tx>): Chronicle<Tx> {
  return new Chronicle(config);
}
