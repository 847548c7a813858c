import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { ChronicleConsoleOptions } from './chronicle-console-options.js';
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
    const guard: Provider =
      typeof resolved.guard === 'function'
        ? { provide: CONSOLE_APP_GUARD, useClass: resolved.guard }
        : { provide: CONSOLE_APP_GUARD, useValue: resolved.guard };
    return {
      module: ChronicleConsoleModule,
      controllers: [consoleControllerFor(resolved.path)],
      providers: [{ provide: CONSOLE_OPTIONS, useValue: resolved }, guard, ConsoleService, ConsoleAccessGuard, ConsoleExceptionFilter],
    };
  }
}
