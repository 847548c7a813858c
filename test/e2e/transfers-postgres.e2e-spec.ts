import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { transfersSuite } from './transfers.suite.js';

await describePostgres('demo transfers on PostgreSQL', () => {
  transfersSuite('PostgreSQL', async () => {
    const schema = uniqueSchemaName('chr_transfer');
    const drop = await createSchema(schema);
    return { config: { databaseUrl: POSTGRES_URL, schema }, cleanup: drop };
  });
});
