import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MasterKeyMissingError, MasterKeyRing, type MasterKeyConfig, type MasterKeyOptions } from '@chronicle/core';

/** Where the demo's master key came from. */
export type MasterKeySource = 'environment' | 'development-file' | 'ephemeral';

/** The master keys of the demo's personal data, and where they came from. */
export interface DemoMasterKeys {
  masterKeys: MasterKeyOptions;
  source: MasterKeySource;
  /** The development key file, when `source` is `development-file`. */
  file?: string;
}

function parsePrevious(value: string | undefined): MasterKeyConfig[] {
  if (!value) return [];
  return value.split(',').map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) {
      throw new MasterKeyMissingError('CHRONICLE_PREVIOUS_MASTER_KEYS must be a comma-separated list of id=base64key pairs (the key material is not shown).');
    }
    return { id: pair.slice(0, at).trim(), key: pair.slice(at + 1).trim() };
  });
}

/**
 * The demo's master keys. `CHRONICLE_MASTER_KEY` (32 random bytes, base64; id
 * `CHRONICLE_MASTER_KEY_ID`, default `demo-1`; older keys in `CHRONICLE_PREVIOUS_MASTER_KEYS` as
 * `id=key,...` during a rotation) wins everywhere. Without it:
 * - on PostgreSQL the demo refuses to start (`MasterKeyMissingError`): a shared database must
 *   never be encrypted with a key nobody configured;
 * - on a SQLite file a development key is generated once into `chronicle-dev-master-key` beside
 *   the database file (mode 0600) and reused, with a warning at every start: whoever holds that
 *   folder holds the key, so this is for local work only;
 * - on `:memory:` SQLite a random key lives as long as the process (the data does too).
 * The keys are checked here (32 bytes), so a malformed one stops start-up before anything runs.
 */
export function demoMasterKeys(env: NodeJS.ProcessEnv, database: { databaseUrl?: string; sqlitePath: string }): DemoMasterKeys {
  const previous = parsePrevious(env.CHRONICLE_PREVIOUS_MASTER_KEYS);
  let result: DemoMasterKeys;
  if (env.CHRONICLE_MASTER_KEY) {
    result = { masterKeys: { current: { id: env.CHRONICLE_MASTER_KEY_ID || 'demo-1', key: env.CHRONICLE_MASTER_KEY }, previous }, source: 'environment' };
  } else if (database.databaseUrl) {
    throw new MasterKeyMissingError(
      'CHRONICLE_MASTER_KEY is not set: on PostgreSQL the demo needs the master key that wraps the account owners\' data keys. ' +
        "Set it to 32 random bytes in base64 (node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"), from your secret store, " +
        'and keep it: without it no owner name can be read again.',
    );
  } else if (database.sqlitePath === ':memory:') {
    result = { masterKeys: { current: { id: 'ephemeral', key: randomBytes(32).toString('base64') } }, source: 'ephemeral' };
  } else {
    const file = join(dirname(database.sqlitePath), 'chronicle-dev-master-key');
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      // 'wx': two processes starting together cannot both write one; the loser reads the winner's.
      try {
        writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    result = { masterKeys: { current: { id: 'dev', key: readFileSync(file, 'utf8').trim() }, previous }, source: 'development-file', file };
  }
  // Checks every key's id and length now (MasterKeyMissingError), never showing key material.
  new MasterKeyRing(result.masterKeys);
  return result;
}
