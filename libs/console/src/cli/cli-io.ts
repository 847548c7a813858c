/** A stream the CLI writes to: `process.stdout`, `process.stderr`, or a test's collector. */
export interface CliOutput {
  /** Writes text as is (the CLI adds the line ends). */
  write(text: string): unknown;
  /** A terminal: the rebuild redraws its progress bar in place. */
  isTTY?: boolean;
  /** Terminal width, for tables and the progress bar. */
  columns?: number;
}

/**
 * Everything the CLI touches of its process, so that {@link runChronicleCli} runs the same in a
 * real process (the `chronicle` bin passes `process.*`) and in a test (collectors and a made-up
 * environment).
 */
export interface ChronicleCliIo {
  /** Results: tables, or one JSON document with `--json`. */
  stdout: CliOutput;
  /** Errors, warnings and the rebuild's progress bar. */
  stderr: CliOutput;
  /** Environment variables (`DATABASE_URL`, `CHRONICLE_SCHEMA`, `CHRONICLE_TABLE_PREFIX`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Directory that relative paths (`--data-source`, `--app`, `sqlite:` files) are resolved from. */
  cwd: string;
}
