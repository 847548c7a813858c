import { ChronicleError } from '@chronicle/core';

/**
 * The `chronicle` CLI was called wrongly: an unknown command or option, a missing or malformed
 * argument, a missing database setting. Nothing was read or changed; the CLI exits with 2 and
 * says what to pass instead.
 */
export class CliUsageError extends ChronicleError {}
