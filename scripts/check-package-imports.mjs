#!/usr/bin/env node
// Every package a build imports (libs/<x>/dist/**/*.js: static imports, re-exports and literal
// dynamic imports) must be declared in that package's dependencies or peerDependencies; otherwise
// it only works where the application happens to have it. Node's built-ins are exempt.
import { builtinModules } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const builtins = new Set(builtinModules);
// tsc writes one import or re-export a line; dynamic imports of a literal anywhere.
const specifiers = [
  /^\s*import\s*['"]([^'"./][^'"]*)['"]/gm,
  /^\s*(?:import|export)\b[^'"\n]*\bfrom\s*['"]([^'"./][^'"]*)['"]/gm,
  /\bimport\(\s*['"]([^'"./][^'"]*)['"]\s*\)/g,
];
const problems = [];
for (const dir of readdirSync('libs')) {
  const manifest = JSON.parse(readFileSync(join('libs', dir, 'package.json'), 'utf8'));
  const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  const used = new Map();
  for (const file of readdirSync(join('libs', dir, 'dist'), { recursive: true })) {
    if (!String(file).endsWith('.js')) continue;
    const text = readFileSync(join('libs', dir, 'dist', String(file)), 'utf8');
    for (const [, spec] of specifiers.flatMap((pattern) => [...text.matchAll(pattern)])) {
      if (spec.startsWith('node:') || builtins.has(spec)) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (name !== manifest.name && !used.has(name)) used.set(name, String(file));
    }
  }
  for (const [name, file] of used) {
    if (!declared.has(name)) problems.push(`${manifest.name}: dist/${file} imports ${name}, which its package.json does not declare`);
  }
}
for (const problem of problems) console.error(problem);
if (problems.length > 0) process.exit(1);
console.log('package imports: every import of every build is declared');
