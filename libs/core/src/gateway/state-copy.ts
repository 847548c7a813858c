import type { AggregateDefinition } from '../aggregates/aggregate-definition.js';

/**
 * The state a command left an aggregate in, copied when someone first asks for it, or just before
 * the live (cached) aggregate changes again, whichever comes first. A caller that never reads
 * `CommandResult.state` pays one small allocation, plus one copy if another command or read
 * reaches the same cached aggregate while this copy is still pending.
 */
export class StateCopy<T extends object = object> {
  private live: T | undefined;
  private copy: T | undefined;

  constructor(
    private readonly definition: AggregateDefinition<T>,
    aggregate: T,
  ) {
    this.live = aggregate;
  }

  /** The copy, made now if it was not made yet. */
  get value(): T {
    if (this.live !== undefined) {
      // The definition's clone keeps the class (prototype, getters, methods), as `gateway.read` does.
      this.copy = this.definition.clone(this.live);
      this.live = undefined;
    }
    return this.copy!;
  }

  /** Called before the live aggregate changes: the copy must show the state it had until now. */
  freeze(): void {
    if (this.live !== undefined) void this.value;
  }
}
