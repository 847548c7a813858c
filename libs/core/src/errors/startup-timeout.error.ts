import { ChronicleError } from './chronicle.error.js';

/**
 * A start-up step kept failing with transient errors until its deadline passed. `cause` is the
 * last error; `step` names what Chronicle was doing, `advice` what to check.
 */
export class StartupTimeoutError extends ChronicleError {
  constructor(
    readonly step: string,
    readonly attempts: number,
    readonly deadlineMs: number,
    readonly lastError: unknown,
    readonly advice: string,
  ) {
    super(
      `Start-up step "${step}" did not succeed within ${deadlineMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}); ` +
        `last error: ${describeError(lastError)}. ${advice}`,
      { cause: lastError },
    );
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = error.message || error.name;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !text.includes(code) ? `${text} [${code}]` : text;
}
