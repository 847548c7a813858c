import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Request } from 'express';
import { Chronicle, ConfigurationError, type ChronicleStorage } from '@chronicle/core';
import { CHRONICLE_STORAGE } from '@chronicle/nestjs';
import { retryDatabaseStartupStep, type ChronicleTableOptions } from '@chronicle/typeorm';
import type { DataSource } from 'typeorm';
import type { ConsoleAuditEntry, ConsoleAuditLog } from '../audit/console-audit-entry.js';
import { InMemoryConsoleAuditLog } from '../audit/in-memory-console-audit-log.js';
import { TypeOrmConsoleAuditLog } from '../audit/typeorm-console-audit-log.js';
import { ChronicleOperations } from '../operations/chronicle-operations.service.js';
import type { ChronicleConsoleOptions } from './chronicle-console-options.js';
import { CONSOLE_OPTIONS } from './console.constants.js';
import { RebuildJobs } from './rebuild-jobs.js';

/** The console's options with every default applied. */
export interface ResolvedConsoleOptions extends Required<Omit<ChronicleConsoleOptions, 'auditLog' | 'tables' | 'csrfSecret'>> {
  auditLog?: ConsoleAuditLog;
  tables?: ChronicleTableOptions;
  csrfSecret: string;
}

/** Checks the options and applies the defaults; throws `ConfigurationError` naming what is wrong. */
export function resolveConsoleOptions(options: ChronicleConsoleOptions): ResolvedConsoleOptions {
  if (options === null || typeof options !== 'object') throw new ConfigurationError('ChronicleConsoleModule.forRoot needs options: { guard, path?, readOnly?, canAct? }.');
  const { guard } = options;
  const guardOk = typeof guard === 'function' || (typeof guard === 'object' && guard !== null && typeof (guard as { canActivate?: unknown }).canActivate === 'function');
  if (!guardOk) {
    throw new ConfigurationError(
      'ChronicleConsoleModule.forRoot refuses to start without a guard: pass `guard`, the Nest guard (a CanActivate class or instance) that decides who may read the console. The console is an attack surface; it is never open.',
    );
  }
  const path = options.path ?? '/chronicle';
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(path)) {
    throw new ConfigurationError(`ChronicleConsoleModule path must be an absolute URL path such as '/chronicle' or '/ops/chronicle' (letters, digits, . _ ~ -), got ${JSON.stringify(path)}.`);
  }
  for (const key of ['canAct', 'actor'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new ConfigurationError(`ChronicleConsoleModule ${key} must be a function of the request.`);
  }
  const refreshMs = options.refreshMs ?? 2_000;
  if (!Number.isSafeInteger(refreshMs) || refreshMs < 250 || refreshMs > 600_000) {
    throw new ConfigurationError(`ChronicleConsoleModule refreshMs must be an integer from 250 to 600000, got ${String(refreshMs)}.`);
  }
  if (options.csrfSecret !== undefined && (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < 16)) {
    throw new ConfigurationError('ChronicleConsoleModule csrfSecret must be a string of at least 16 characters.');
  }
  const secureCookie = options.secureCookie ?? 'auto';
  if (secureCookie !== true && secureCookie !== false && secureCookie !== 'auto') {
    throw new ConfigurationError(`ChronicleConsoleModule secureCookie must be true, false or 'auto', got ${JSON.stringify(secureCookie)}.`);
  }
  return {
    path,
    guard,
    secureCookie,
    canAct: options.canAct ?? (() => false),
    actor: options.actor ?? defaultActor,
    readOnly: options.readOnly ?? false,
    csrfSecret: options.csrfSecret ?? randomBytes(32).toString('base64url'),
    refreshMs,
    ...(options.auditLog === undefined ? {} : { auditLog: options.auditLog }),
    ...(options.tables === undefined ? {} : { tables: options.tables }),
  };
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Text as one log line: control characters (newlines included) shown as escapes. */
function oneLine(text: string): string {
  return String(text).replace(CONTROL, (char) => {
    const code = char.charCodeAt(0);
    if (code === 0x0a) return '\\n';
    if (code === 0x0d) return '\\r';
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

function defaultActor(request: Request): string {
  const user = (request as Request & { user?: Record<string, unknown> }).user;
  for (const key of ['id', 'sub', 'username', 'name'] as const) {
    const value = user?.[key];
    if (typeof value === 'string' || typeof value === 'number') return String(value);
  }
  return 'authenticated user';
}

/**
 * The console's state in the application: the operations service over the module's Chronicle
 * runtime, the audit trail (its table prepared at start), the running rebuilds.
 */
@Injectable()
export class ConsoleService implements OnModuleInit {
  private readonly logger = new Logger('ChronicleConsole');
  private operationsValue: ChronicleOperations | undefined;
  private auditValue: ConsoleAuditLog | undefined;
  /** Rebuilds started from this process. */
  readonly rebuilds = new RebuildJobs();

  constructor(
    @Inject(CONSOLE_OPTIONS) readonly options: ResolvedConsoleOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** Finds the Chronicle runtime (EventSourcingModule) and prepares the audit table. */
  async onModuleInit(): Promise<void> {
    const chronicle = this.find<Chronicle>(Chronicle);
    const storage = chronicle?.storage ?? this.find<ChronicleStorage>(CHRONICLE_STORAGE);
    if (!storage) {
      throw new ConfigurationError('ChronicleConsoleModule needs EventSourcingModule: import EventSourcingModule.forRoot(...) in the application too.');
    }
    this.operationsValue = new ChronicleOperations({ storage, ...(chronicle ? { chronicle } : {}) });
    const dataSource = (storage as { dataSource?: DataSource }).dataSource;
    const tables = this.options.tables ?? {};
    this.auditValue = this.options.auditLog ?? (dataSource ? new TypeOrmConsoleAuditLog(dataSource, tables) : new InMemoryConsoleAuditLog());
    // Like Chronicle's own migrations: retried while the database is starting, up to the start-up deadline.
    const audit = this.auditValue;
    await (dataSource && !this.options.auditLog ? retryDatabaseStartupStep('console audit table', () => audit.prepare()) : audit.prepare());
  }

  /** The operations service. */
  get operations(): ChronicleOperations {
    if (!this.operationsValue) throw new ConfigurationError('The Chronicle console is not initialized yet.');
    return this.operationsValue;
  }

  /** The audit trail. */
  get audit(): ConsoleAuditLog {
    if (!this.auditValue) throw new ConfigurationError('The Chronicle console is not initialized yet.');
    return this.auditValue;
  }

  /**
   * Writes an action to the log and to the audit trail. A failed audit write is logged at error
   * level with the whole entry (the log then holds what the table lost), and thrown.
   */
  async record(entry: Omit<ConsoleAuditEntry, 'at'>): Promise<void> {
    const full: ConsoleAuditEntry = { at: new Date(), ...entry };
    // The target and outcome carry what the operator typed (ids, handler names) and error
    // messages: escaped, so that a newline in them cannot forge a second log line.
    const line = `${oneLine(full.actor)} ${oneLine(full.action)} ${oneLine(full.target)}: ${oneLine(full.outcome)}`;
    this.logger.log(`audit: ${line}`);
    try {
      await this.audit.record(full);
    } catch (error) {
      this.logger.error(`audit row not written (${oneLine(error instanceof Error ? error.message : String(error))}), the action's outcome stands: ${full.at.toISOString()} ${line}`);
      throw error;
    }
  }

  private find<T>(token: unknown): T | undefined {
    try {
      return this.moduleRef.get<T>(token as string, { strict: false });
    } catch {
      return undefined;
    }
  }
}
