/** The database driver's own error behind a TypeORM `QueryFailedError` (or the error itself). */
export function driverErrorOf(error: unknown): Record<string, unknown> | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const wrapped = (error as { driverError?: unknown }).driverError;
  if (wrapped !== null && typeof wrapped === 'object') return wrapped as Record<string, unknown>;
  return error as Record<string, unknown>;
}
