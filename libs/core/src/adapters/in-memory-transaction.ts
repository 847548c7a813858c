/**
 * The unit-of-work handle `InMemoryJournal` gives its participants (the `Tx` of
 * `UnitOfWorkParticipant<InMemoryTransaction>`).
 *
 * Memory has no rollback, so a participant works in two steps: in `participate` it checks and
 * prepares everything that can fail (throwing there rolls the whole unit back, journal included),
 * and it hands the change itself to `onCommit`, which runs only when every participant succeeded.
 *
 * @example
 * journal.addParticipant({
 *   async participate(tx, _request, result) {
 *     const rows = result.streams.flatMap((stream) => stream.events.map(toOutboxRow));
 *     tx.onCommit(() => this.rows.push(...rows));
 *   },
 * });
 */
export interface InMemoryTransaction {
  /**
   * Registers a change to apply if the unit commits; it is dropped if the unit rolls back.
   * Callbacks run synchronously, in registration order, right after the journal applied its own
   * writes, so no reader sees the journal and the participants' stores disagree. They must not
   * throw: the unit has committed by then, and an error would reach the appender as a failure.
   * Registering after the unit ended throws.
   */
  onCommit(apply: () => void): void;
}
