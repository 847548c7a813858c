#!/usr/bin/env node
// The `chronicle` executable (package.json "bin"): runs the CLI on this process's arguments and
// streams, and exits with its code once the database connections are closed.
import 'reflect-metadata';
import { runChronicleCli } from './chronicle-cli.js';

process.exitCode = await runChronicleCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
