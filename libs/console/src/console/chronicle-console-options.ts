import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import type { Request } from 'express';
import type { ChronicleTableOptions } from '@chronicle/typeorm';
import type { ConsoleAuditLog } from '../audit/console-audit-entry.js';

/** Options of `ChronicleConsoleModule.forRoot`. */
export interface ChronicleConsoleOptions {
  /** Where the console is mounted; every page and action is below it. @default '/chronicle' */
  path?: string;
  /**
   * Required: the application's Nest guard (a class, made by Nest with its injections, or an
   * instance). It decides who may read the console; it runs before every page and action. A
   * browser's login cookie reaches it as an `Authorization: Bearer <token>` header, exactly as a
   * script sends it. Without a guard the module refuses to start (`ConfigurationError`).
   */
  guard: Type<CanActivate> | CanActivate;
  /**
   * Who may act (re-drive, rebuild), asked after the guard let the request in. Nobody by default:
   * reading and acting are separate permissions.
   * @default () => false
   */
  canAct?: (request: Request) => boolean | Promise<boolean>;
  /**
   * The name the audit trail records for a request.
   * @default request.user's `id`, `sub`, `username` or `name`, else 'authenticated user'
   */
  actor?: (request: Request) => string;
  /** Refuse every action (403), whoever asks: a console that only shows. @default false */
  readOnly?: boolean;
  /**
   * Secret of the CSRF tokens (HMAC of the session cookie). Give the same value to every instance
   * behind one address, or a form served by one instance is refused by another.
   * @default random per process
   */
  csrfSecret?: string;
  /**
   * Whether the session cookie is marked `Secure` (the browser sends it over HTTPS only). `'auto'`:
   * when the login request came over HTTPS, as Express's `request.secure` says. Behind a
   * TLS-terminating proxy or ingress the application sees plain HTTP, so `'auto'` needs Express's
   * `trust proxy` setting (`app.set('trust proxy', …)`, naming the proxy) for `X-Forwarded-Proto:
   * https` to count; without it the cookie is not `Secure`. `true` always marks it (a console served
   * over plain HTTP, other than on localhost, then cannot keep a session); `false` never does.
   * @default 'auto'
   */
  secureCookie?: boolean | 'auto';
  /**
   * Where actions are recorded. By default a `TypeOrmConsoleAuditLog` on the Chronicle storage's
   * DataSource (its table made at start by the package's migration), or an in-memory one when the
   * storage is in memory.
   */
  auditLog?: ConsoleAuditLog;
  /** Schema and prefix of the audit table; give the same as the Chronicle module's `tables`. @default {} */
  tables?: ChronicleTableOptions;
  /** How often the live pages (the feed, a rebuild's progress) refresh, in milliseconds. @default 2000 */
  refreshMs?: number;
}

/**
 * Options of `ChronicleConsoleModule.forRootAsync`: the mount path and the guard are fixed when the
 * module is declared (Nest registers routes and guards then); everything else may come from
 * configuration, through a factory with injections.
 */
export interface ChronicleConsoleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Where the console is mounted. @default '/chronicle' */
  path?: string;
  /** Required: the application's Nest guard, as in `forRoot`. */
  guard: Type<CanActivate> | CanActivate;
  /** Providers the factory receives, in order. */
  inject?: Array<string | symbol | Type<unknown>>;
  /** Returns the other options (`canAct`, `readOnly`, `csrfSecret`, `secureCookie`, …). */
  useFactory: (...args: never[]) => Omit<ChronicleConsoleOptions, 'path' | 'guard'> | Promise<Omit<ChronicleConsoleOptions, 'path' | 'guard'>>;
}
