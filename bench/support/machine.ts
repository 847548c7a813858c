import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pgQuery } from './postgres.js';
import type { MachineInfo } from './types.js';

const PACKAGES = ['@nestjs/core', '@nestjs/cqrs', '@nestjs/typeorm', 'typeorm', 'pg', 'better-sqlite3', 'typescript'];
const PG_SETTINGS = ['synchronous_commit', 'fsync', 'wal_level', 'full_page_writes', 'commit_delay', 'shared_buffers', 'max_connections'];

function cpuModel(): string {
  const fromOs = cpus()[0]?.model?.trim();
  if (fromOs) return fromOs;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function git(root: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** What this run measured on: hardware, runtimes, database servers and settings, package versions, code. */
export async function describeMachine(root: string, postgresReachable: boolean): Promise<MachineInfo> {
  let postgres = 'unreachable';
  const postgresSettings: Record<string, string> = {};
  if (postgresReachable) {
    try {
      const [row] = await pgQuery<{ server_version: string }>('SHOW server_version');
      postgres = `PostgreSQL ${row?.server_version ?? '?'}`;
      const rows = await pgQuery<{ name: string; setting: string; unit: string | null }>(
        'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)',
        [PG_SETTINGS],
      );
      for (const r of rows) postgresSettings[r.name] = r.unit ? `${r.setting} (${r.unit})` : r.setting;
    } catch (error) {
      postgres = `error: ${(error as Error).message}`;
    }
  }
  let sqlite = 'unknown';
  try {
    const db = new Database(':memory:');
    sqlite = `SQLite ${String(db.prepare('SELECT sqlite_version() AS v').pluck().get())}`;
    db.close();
  } catch (error) {
    sqlite = `error: ${(error as Error).message}`;
  }
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    const file = join(root, 'node_modules', name, 'package.json');
    if (existsSync(file)) packages[name] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  const status = git(root, ['status', '--porcelain']) ?? '';
  const dirty = status.split('\n').filter((line) => line.trim().length > 0);
  return {
    cpuModel: cpuModel(),
    cores: cpus().length,
    ramGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${osType()} ${release()}`,
    node: process.version,
    postgres,
    postgresSettings,
    sqlite,
    packages,
    git: {
      commit: git(root, ['rev-parse', '--short', 'HEAD']) ?? 'unknown',
      dirtyFiles: dirty.length,
      dirtyLibFiles: dirty.map((line) => line.slice(3)).filter((path) => path.startsWith('libs/')),
    },
  };
}
