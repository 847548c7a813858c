#!/usr/bin/env node
// The `chronicle` executable (package.json "bin"): runs the CLI on this process's arguments and
// streams, and exits with its code once the database connections are closed.
import 'reflect-metadata';
import { runChronicleCli } from './chronicle-cli.js';

// Ctrl-C (or a TERM) ends the process at once, as without a handler: an unfinished rebuild's
// transaction is rolled back by the database. The terminal gets its cursor back (the progress bar
// hides it while it draws).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (process.stderr.isTTY) process.stderr.write('\u001b[?25h\n');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

process.exitCode = await runChronicleCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
