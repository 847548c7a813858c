import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { ConfigurationError } from '@chronicle/core';
import type { ChronicleConsoleAsyncOptions, ChronicleConsoleOptions } from './chronicle-console-options.js';
import { ConsoleAccessGuard } from './console-access.guard.js';
import { ConsoleExceptionFilter } from './console-exception.filter.js';
import { consoleControllerFor } from './console.controller.js';
import { CONSOLE_APP_GUARD, CONSOLE_OPTIONS } from './console.constants.js';
import { ConsoleService, resolveConsoleOptions } from './console.service.js';

/**
 * The Chronicle operations console: server-rendered pages (with htmx, served from this package)
 * and their actions, mounted at `path` (default `/chronicle`) in an Express-based Nest
 * application that imports `EventSourcingModule`. Nothing is mounted unless the application
 * imports this module, and `forRoot` refuses to build without a guard.
 *
 * @example
 * ```ts
 * ChronicleConsoleModule.forRoot({
 *   guard: OpsTokenGuard,                                  // your Nest guard: who may read
 *   canAct: (request) => request.user?.roles.includes('ops'), // who may re-drive and rebuild
 *   readOnly: process.env.CONSOLE_READ_ONLY === 'true',
 * })
 * ```
 */
@Module({})
export class ChronicleConsoleModule {
  /** Mounts the console with these options; throws `ConfigurationError` for missing or malformed ones. */
  static forRoot(options: ChronicleConsoleOptions): DynamicModule {
    const resolved = resolveConsoleOptions(options);
    return ChronicleConsoleModule.build(resolved.path, resolved.guard, { provide: CONSOLE_OPTIONS, useValue: resolved }, []);
  }

  /**
   * Mounts the console at a fixed `path` behind a fixed `guard`, with the other options from
   * `useFactory` (checked when the application starts, with the same errors as `forRoot`).
   */
  static forRootAsync(options: ChronicleConsoleAsyncOptions): DynamicModule {
    // The path and the guard are checked now, exactly as forRoot checks them.
    const fixed = resolveConsoleOptions({ guard: options?.guard, ...(options?.path === undefined ? {} : { path: options.path }) });
    if (typeof options.useFactory !== 'function') throw new ConfigurationError('ChronicleConsoleModule.forRootAsync needs useFactory: a function returning the options.');
    const provider: Provider = {
      provide: CONSOLE_OPTIONS,
      inject: options.inject ?? [],
      useFactory: async (...args: never[]) => resolveConsoleOptions({ ...(await options.useFactory(...args)), path: fixed.path, guard: fixed.guard }),
    };
    return ChronicleConsoleModule.build(fixed.path, fixed.guard, provider, options.imports ?? []);
  }

  private static build(path: string, appGuard: ChronicleConsoleOptions['guard'], optionsProvider: Provider, imports: NonNullable<ChronicleConsoleAsyncOptions['imports']>): DynamicModule {
    const guard: Provider =
      typeof appGuard === 'function' ? { provide: CONSOLE_APP_GUARD, useClass: appGuard } : { provide: CONSOLE_APP_GUARD, useValue: appGuard };
    return {
      module: ChronicleConsoleModule,
      imports,
      controllers: [consoleControllerFor(path)],
      providers: [optionsProvider, guard, ConsoleService, ConsoleAccessGuard, ConsoleExceptionFilter],
    };
  }
}
