import { jest } from '@jest/globals';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { createSchema, describePostgres, POSTGRES_URL, uniqueSchemaName } from '../support/services.js';
import { cliScenario } from './cli.scenario.js';

jest.setTimeout(60_000);

await describePostgres('the chronicle CLI on PostgreSQL (postgres://…, --schema), the application down', () => {
  cliScenario(async () => {
    const schema = uniqueSchemaName('chr_cli');
    const dropSchema = await createSchema(schema);
    const dataSource = new DataSource({ type: 'postgres', url: POSTGRES_URL, driver: pg, extra: { max: 4 } });
    await dataSource.initialize();
    return {
      storage: createTypeOrmStorage(dataSource, { schema }),
      schema,
      env: { DATABASE_URL: POSTGRES_URL, CHRONICLE_SCHEMA: schema, TILL_DATABASE: POSTGRES_URL },
      query: (sql: string) => dataSource.query(sql),
      close: async () => {
        await dataSource.destroy();
        await dropSchema();
      },
    };
  });
});
