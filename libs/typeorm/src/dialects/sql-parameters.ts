import type { SqlDialect } from './sql-dialect.js';

/**
 * Collects a statement's parameters and hands out their placeholders, so SQL is written once
 * for both dialects and values are never spliced into the text.
 */
export class SqlParameters {
  readonly values: unknown[] = [];

  constructor(private readonly dialect: SqlDialect) {}

  /** Adds a value and returns its placeholder (`$n` or `?`). Reusing a value means adding it again. */
  add(value: unknown): string {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  }
}
