/** Formats ` in stream "x" at version n` for error messages (internal to the errors). */
export function where(streamId: string | undefined, version: number | undefined): string {
  if (streamId === undefined) return '';
  return ` in stream "${streamId}"${version === undefined ? '' : ` at version ${version}`}`;
}
