// Public API of @chronicle/console.
// The `chronicle` CLI (its executable is dist/cli/bin.js)
export * from './cli/chronicle-cli.js';
export * from './cli/cli-io.js';
export * from './cli/cli-usage.error.js';
export type {
  ChronicleCliApp,
  ChronicleCliAppContext,
  ChronicleCliAppTarget,
} from './cli/cli-app.js';
export type * from './cli/cli-json.js';
