/** The logging the kernel needs; Nest's `Logger` satisfies it. */
export interface ChronicleLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string, stack?: string): void;
}

/** Writes to the console with a context prefix; used when no logger is given. */
export function consoleLogger(context: string): ChronicleLogger {
  return {
    log: (message) => console.log(`[${context}] ${message}`),
    warn: (message) => console.warn(`[${context}] ${message}`),
    error: (message, stack) => console.error(`[${context}] ${message}${stack ? `\n${stack}` : ''}`),
  };
}
