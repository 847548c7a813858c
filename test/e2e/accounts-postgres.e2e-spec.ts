import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { accountsSuite } from './accounts.suite.js';

await describePostgres('demo bank on PostgreSQL', () => {
  accountsSuite('PostgreSQL', async () => {
    const schema = uniqueSchemaName('chr_demo');
    const drop = await createSchema(schema);
    return { config: { databaseUrl: POSTGRES_URL, schema }, cleanup: drop };
  }, { concurrentDriver: true });
});
