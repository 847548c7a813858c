import { DataSource } from 'typeorm';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { createSchema, describePostgres, POSTGRES_URL, uniqueSchemaName } from '../support/services.js';
import { operationsScenario } from './operations.scenario.js';

await describePostgres('ChronicleOperations on PostgreSQL', () => {
  operationsScenario(async () => {
    const schema = uniqueSchemaName('chr_ops');
    const dropSchema = await createSchema(schema);
    const dataSource = new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize: 5 });
    await dataSource.initialize();
    return {
      storage: createTypeOrmStorage(dataSource, { schema }),
      close: async () => {
        await dataSource.destroy();
        await dropSchema();
      },
    };
  });
});
