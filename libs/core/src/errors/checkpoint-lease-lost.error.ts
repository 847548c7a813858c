import { ChronicleError } from './chronicle.error.js';

/**
 * A subscription runner tried to move a checkpoint it no longer owns, or from a position that has
 * moved since it read it (another runner took the lease over, or a rebuild reset it). Nothing of
 * that step was kept; the runner reloads the checkpoint and continues from there.
 */
export class CheckpointLeaseLostError extends ChronicleError {
  constructor(
    readonly subscription: string,
    readonly owner: string,
  ) {
    super(
      `Subscription "${subscription}": runner ${owner} no longer holds its checkpoint (the lease expired or was taken over, ` +
        'or the position moved); the step was rolled back and will be redone by the current holder.',
    );
  }
}
