#!/usr/bin/env node
// The npm registry reachable from our machines serves only some platforms of packages that ship
// per-platform native bindings as optional dependencies (jest's unrs-resolver: android, darwin,
// win32, ... answer 404). npm then leaves those bindings out of package-lock.json, and `npm ci`
// refuses the lock ("Missing: ... from lock file"). This adds an entry for each missing binding
// with the os/cpu/libc its name declares, so `npm ci` accepts the lock and skips the binding on
// any machine it does not fit, without fetching it. Run it after `npm install` changes the lock:
//   npm install && node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['android', 'darwin', 'freebsd', 'linux', 'openharmony', 'win32', 'sunos', 'aix', 'netbsd', 'openbsd'];
const LIBC = { gnu: 'glibc', gnueabihf: 'glibc', musl: 'musl', musleabihf: 'musl' };

function platformOf(name) {
  const tail = name.split('/').pop();
  const parts = tail.split('-');
  const osIndex = parts.findIndex((p) => OS.includes(p));
  if (osIndex < 0 || osIndex + 1 >= parts.length) return undefined;
  const os = parts[osIndex];
  const cpu = parts[osIndex + 1];
  const abi = parts[osIndex + 2];
  const entry = { os: [os], cpu: [cpu] };
  if (abi && LIBC[abi]) entry.libc = [LIBC[abi]];
  return entry;
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let added = 0;
for (const [path, pkg] of Object.entries(lock.packages)) {
  for (const [dep, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key] || lock.packages[`${path}/node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    lock.packages[key] = { version: range, dev: pkg.dev, optional: true, ...platform };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform-specific optional entries`);
