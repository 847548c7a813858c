import { InvalidCommandError } from '../errors/invalid-command.error.js';

/**
 * Where a command carries its target aggregate's id: the name of a string property
 * (`'accountId'`), or a function of the command (`(c: Deposit) => c.accountId`).
 */
export type AggregateIdSource = string | ((command: never) => string);

/** Reads the target aggregate id of a command; throws `InvalidCommandError` when it is missing. */
export function readAggregateId(source: AggregateIdSource, command: object): string {
  const id =
    typeof source === 'string'
      ? (command as Record<string, unknown>)[source]
      : (source as (command: object) => unknown)(command);
  if (typeof id !== 'string' || id.length === 0) {
    const where = typeof source === 'string' ? `property "${source}"` : 'the id function';
    throw new InvalidCommandError(
      command.constructor.name,
      `its target aggregate id (${where}) is ${id === '' ? 'empty' : typeof id}, expected a non-empty string`,
    );
  }
  return id;
}
