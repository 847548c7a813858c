// Public API of @chronicle/console.
// Operations (framework-free: the console module and the CLI use it)
export * from './operations/chronicle-operations.service.js';
export * from './operations/operations-limits.js';
export * from './errors/operations-not-found.error.js';
// The console (a Nest module)
export * from './console/chronicle-console.module.js';
export * from './console/chronicle-console-options.js';
export * from './console/console-errors.js';
export { CONSOLE_CSP } from './console/security-headers.js';
export { CONSOLE_SESSION_COOKIE } from './console/console-session.js';
// The audit trail
export * from './audit/console-audit-entry.js';
export * from './audit/in-memory-console-audit-log.js';
export * from './audit/typeorm-console-audit-log.js';
export * from './audit/console-audit.migration.js';
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
