/**
 * Base class of every error Chronicle throws. `name` is the subclass's name, so callers
 * can match on it after serialization; `cause` carries the underlying error when there is one.
 */
export class ChronicleError extends Error {
  /** A stable machine-readable code (the class name by default). */
  readonly code: string;

  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options?.code ?? new.target.name;
  }
}
