// Preload (node --import) that installs hooks.mjs and blocks the same packages for CommonJS
// `require` (TypeORM loads drivers with require; Node 20's module hooks do not see it).
// CHRONICLE_BLOCKED: comma-separated package names (`@nats-io/*` blocks a scope);
// CHRONICLE_BLOCKED_ATTEMPTS: a file where every attempt to load one is appended.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { isBlocked } from './hooks.mjs';

const blocked = (process.env.CHRONICLE_BLOCKED ?? '').split(',').filter(Boolean);
const attemptsFile = process.env.CHRONICLE_BLOCKED_ATTEMPTS;
register('./hooks.mjs', import.meta.url, { data: { blocked, attemptsFile } });

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if (isBlocked(request, blocked)) {
    if (attemptsFile) appendFileSync(attemptsFile, `${request} <- ${parent?.filename ?? '(require)'}\n`);
    const error = new Error(`Cannot find module '${request}' (blocked: not installed)`);
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolveFilename.call(this, request, parent, ...rest);
};
