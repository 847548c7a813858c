// Module hooks (node --import ./test/optional-peers/register.mjs) that run Chronicle's TypeScript
// sources straight from the repository under Node's own resolver, with the optional peers made
// unresolvable: an application on SQLite that has none of them installed.
//
// - `@chronicle/<lib>` and its subpaths resolve to libs/<lib>/src; `./x.js` resolves to `./x.ts`
//   when that is what exists; .ts files are transpiled per file (the project compiles with
//   isolatedModules, so per-file transpiling is faithful).
// - Every specifier in BLOCKED (and anything under it) fails with ERR_MODULE_NOT_FOUND, exactly as a
//   package that is not installed does, and is written to the attempts file.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = new URL('../../', import.meta.url);
let blocked = [];
let attemptsFile;

/** Receives the blocked package names and the file that records attempts (from register.mjs). */
export function initialize(data) {
  blocked = data.blocked;
  attemptsFile = data.attemptsFile;
}

/** Whether `specifier` names a blocked package or a file inside one. */
export function isBlocked(specifier, names) {
  return names.some((name) => (name.endsWith('/*') ? specifier.startsWith(name.slice(0, -1)) : specifier === name || specifier.startsWith(`${name}/`)));
}

const entries = {
  '@chronicle/core': 'libs/core/src/index.ts',
  '@chronicle/typeorm': 'libs/typeorm/src/index.ts',
  '@chronicle/nestjs': 'libs/nestjs/src/index.ts',
  '@chronicle/nestjs/rabbitmq': 'libs/nestjs/src/rabbitmq.ts',
  '@chronicle/nestjs/microservices': 'libs/nestjs/src/microservices.ts',
  '@chronicle/nestjs/terminus': 'libs/nestjs/src/terminus.ts',
  '@chronicle/testing': 'libs/testing/src/index.ts',
  '@chronicle/testing/contracts': 'libs/testing/src/contracts.ts',
};

export async function resolve(specifier, context, next) {
  if (isBlocked(specifier, blocked)) {
    if (attemptsFile) appendFileSync(attemptsFile, `${specifier} <- ${context.parentURL ?? '(entry)'}\n`);
    const error = new Error(`Cannot find package '${specifier}' imported from ${context.parentURL} (blocked: not installed)`);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  if (specifier in entries) return { url: new URL(entries[specifier], root).href, shortCircuit: true, format: 'module' };
  if (context.parentURL?.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true, format: 'module' };
  }
  return next(specifier, context);
}

const compilerOptions = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2023,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
  useDefineForClassFields: true,
  sourceMap: false,
  inlineSourceMap: true,
};

export async function load(url, context, next) {
  if (url.endsWith('.ts')) {
    const source = readFileSync(fileURLToPath(url), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: fileURLToPath(url) });
    return { format: 'module', source: outputText, shortCircuit: true };
  }
  return next(url, context);
}
