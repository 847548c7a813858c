import 'reflect-metadata';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { createChronicleEntities, createChronicleMigrations } from '@chronicle/typeorm';

/**
 * The DataSource the TypeORM CLI uses (`npx typeorm migration:show -d dist/ormconfig.js`).
 * `DATABASE_URL` selects PostgreSQL; otherwise the embedded SQLite file `data/chronicle.sqlite`.
 * Chronicle's migrations are idempotent, so running them here and at application start-up is safe.
 */
export function chronicleDataSourceOptions(databaseUrl = process.env.DATABASE_URL): DataSourceOptions {
  const tables = { schema: process.env.CHRONICLE_SCHEMA, tablePrefix: process.env.CHRONICLE_TABLE_PREFIX };
  if (databaseUrl) {
    return {
      type: 'postgres',
      url: databaseUrl,
      entities: createChronicleEntities({ ...tables, type: 'postgres' }).all,
      migrations: createChronicleMigrations(tables),
    };
  }
  return {
    type: 'better-sqlite3',
    database: 'data/chronicle.sqlite',
    entities: createChronicleEntities({ ...tables, type: 'better-sqlite3' }).all,
    migrations: createChronicleMigrations(tables),
  };
}

export default new DataSource(chronicleDataSourceOptions());
