import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DynamicModule, INestApplicationContext, LoggerService, Type } from '@nestjs/common';
import { Chronicle, ConfigurationError } from '@chronicle/core';
import { CliUsageError } from './cli-usage.error.js';
import type { ChronicleCliIo } from './cli-io.js';

/**
 * What the export of an `--app` file is called with (when it is a function). Spread
 * `subscriptions` and `outbox` into the application's Chronicle options: this process then runs
 * none of the application's background work, only the operator's command, while the
 * application's own instances keep running theirs (a rebuild's transaction and the live runners'
 * leases keep the two apart).
 */
export interface ChronicleCliAppContext {
  /** The CLI command being run: `rebuild`, `status`, … */
  command: string;
  /** Run no projection or saga here. */
  subscriptions: { run: false };
  /** Relay no outbox entry here. */
  outbox: { relay: false };
  /** The CLI's environment. */
  env: Readonly<Record<string, string | undefined>>;
}

/** What an `--app` file can give the CLI: a Nest module (class or dynamic), or a Chronicle runtime (`createChronicle`). */
export type ChronicleCliAppTarget = Type<unknown> | DynamicModule | Chronicle<unknown>;

/**
 * The export of an `--app` file (`export default`, or `export const chronicleCliApp`): a target,
 * or a function (not a class) of the {@link ChronicleCliAppContext} returning one.
 */
export type ChronicleCliApp =
  | ChronicleCliAppTarget
  | ((context: ChronicleCliAppContext) => ChronicleCliAppTarget | Promise<ChronicleCliAppTarget>);

/** A loaded application: its runtime, and how to close it. */
export interface LoadedCliApp {
  chronicle: Chronicle<unknown>;
  close(): Promise<void>;
}

/** Nest's messages go to stderr (stdout carries the command's result), errors and warnings only. */
function stderrLogger(io: ChronicleCliIo): LoggerService {
  const write = (level: string, message: unknown, rest: unknown[]): void => {
    const context = typeof rest[rest.length - 1] === 'string' ? ` [${String(rest[rest.length - 1])}]` : '';
    io.stderr.write(`${level}${context} ${message instanceof Error ? message.message : String(message)}\n`);
  };
  return {
    log: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
    warn: (message: unknown, ...rest: unknown[]) => write('warn', message, rest),
    error: (message: unknown, ...rest: unknown[]) => write('error', message, rest),
    fatal: (message: unknown, ...rest: unknown[]) => write('fatal', message, rest),
  };
}

function isClass(value: unknown): value is Type<unknown> {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

function isChronicle(value: unknown): value is Chronicle<unknown> {
  if (value instanceof Chronicle) return true;
  // Another copy of @chronicle/core (a second install) is still a runtime: recognised by shape.
  const candidate = value as Partial<Chronicle<unknown>> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.subscriptions instanceof Map &&
    candidate.projections instanceof Map &&
    typeof candidate.start === 'function' &&
    typeof candidate.storage?.journal?.readAll === 'function'
  );
}

function isDynamicModule(value: unknown): value is DynamicModule {
  return typeof value === 'object' && value !== null && typeof (value as DynamicModule).module === 'function';
}

/**
 * Loads an `--app` file (a built JavaScript module: `node` imports it) and brings its application
 * up: a Nest module is booted as an application context (its Chronicle starts, migrating as
 * usual); a runtime is started (and, when done, stopped and its TypeORM DataSource closed). The
 * application's `Chronicle` is what the operations run on, over its own storage. Whether it runs
 * background work is the application's choice: the context asks for none.
 */
export async function loadCliApp(file: string, io: ChronicleCliIo, command: string): Promise<LoadedCliApp> {
  const path = resolve(io.cwd, file);
  if (!existsSync(path)) {
    throw new CliUsageError(`--app ${file}: no such file (${path}). Point it at the built JavaScript module of the application (e.g. dist/…/chronicle-cli.app.js).`);
  }
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError(`--app ${file} could not be loaded: ${(error as Error).message}`, { cause: error });
  }
  const exported = exports.chronicleCliApp ?? exports.default;
  if (exported === undefined) {
    throw new CliUsageError(`--app ${file} exports neither \`chronicleCliApp\` nor a default: export a Nest module, a Chronicle runtime, or a function returning one.`);
  }
  const context: ChronicleCliAppContext = { command, subscriptions: { run: false }, outbox: { relay: false }, env: io.env };
  const target = typeof exported === 'function' && !isClass(exported) ? await (exported as (c: ChronicleCliAppContext) => unknown)(context) : exported;

  if (isChronicle(target)) {
    // The runtime was built for this command: stopped, and its DataSource closed, when it is done.
    const close = async (): Promise<void> => {
      await target.stop();
      const dataSource = (target.storage as { dataSource?: { isInitialized: boolean; destroy(): Promise<void> } }).dataSource;
      if (dataSource?.isInitialized) await dataSource.destroy();
    };
    try {
      await target.start();
    } catch (error) {
      await close().catch(() => undefined);
      throw error;
    }
    return { chronicle: target, close };
  }
  if (isClass(target) || isDynamicModule(target)) {
    const { NestFactory } = await import('@nestjs/core');
    const app: INestApplicationContext = await NestFactory.createApplicationContext(target, { logger: stderrLogger(io), abortOnError: false });
    let chronicle: Chronicle<unknown>;
    try {
      chronicle = app.get(Chronicle, { strict: false });
    } catch {
      await app.close();
      throw new ConfigurationError(`--app ${file}: the module does not provide Chronicle; import EventSourcingModule.forRoot(...) in it.`);
    }
    return { chronicle, close: () => app.close() };
  }
  throw new CliUsageError(
    `--app ${file} gave ${target === null ? 'null' : typeof target}: export a Nest module (class or DynamicModule), a Chronicle runtime (createChronicle), or a function returning one.`,
  );
}
