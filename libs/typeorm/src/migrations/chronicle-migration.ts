import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../dialects/dialect-of.js';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { sqliteDialect } from '../dialects/sqlite.dialect.js';
import { resolveChronicleTables, type ChronicleTableOptions, type ChronicleTables } from '../table-options.js';

/**
 * A Chronicle migration class. The classes are made at runtime (the prefix and schema are
 * closed over), so they can go into a DataSource's `migrations` list for the TypeORM CLI as
 * well as into `runChronicleMigrations`.
 */
export type ChronicleMigrationClass = new () => MigrationInterface & { name: string };

/** The DDL of one migration, per dialect. */
export interface ChronicleMigrationStatements {
  postgres(tables: ChronicleTables): string[];
  sqlite(tables: ChronicleTables): string[];
  /** The reverting DDL; `dialect` for the statements whose syntax differs. */
  down(tables: ChronicleTables, dialect: 'postgres' | 'sqlite'): string[];
}

/**
 * Makes a migration class for the given tables: `up` runs the statements of the connection's
 * dialect in order, `down` the reverting ones. The prefix is validated now, not at the first run.
 */
export function defineChronicleMigration(
  name: string,
  options: ChronicleTableOptions | undefined,
  statements: ChronicleMigrationStatements,
): ChronicleMigrationClass {
  resolveChronicleTables(options, postgresDialect);
  return class ChronicleMigration implements MigrationInterface {
    readonly name = name;

    async up(queryRunner: QueryRunner): Promise<void> {
      const dialect = dialectOf(queryRunner.connection);
      const tables = resolveChronicleTables(options, dialect);
      for (const statement of dialect === sqliteDialect ? statements.sqlite(tables) : statements.postgres(tables)) {
        await queryRunner.query(statement);
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const dialect = dialectOf(queryRunner.connection);
      const tables = resolveChronicleTables(options, dialect);
      for (const statement of statements.down(tables, dialect === sqliteDialect ? 'sqlite' : 'postgres')) await queryRunner.query(statement);
    }
  };
}
