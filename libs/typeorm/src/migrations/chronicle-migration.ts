import type { MigrationInterface } from 'typeorm';

/**
 * A Chronicle migration class. The classes are made at runtime (the prefix and schema are
 * closed over), so they can go into a DataSource's `migrations` list for the TypeORM CLI as
 * well as into `runChronicleMigrations`.
 */
export type ChronicleMigrationClass = new () => MigrationInterface & { name: string };
