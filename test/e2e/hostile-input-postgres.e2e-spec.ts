import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { hostileInputSuite } from './hostile-input.suite.js';

await describePostgres('hostile input on PostgreSQL', () => {
  hostileInputSuite('PostgreSQL', async () => {
    const schema = uniqueSchemaName('chr_fuzz');
    const drop = await createSchema(schema);
    return { config: { databaseUrl: POSTGRES_URL, schema }, cleanup: drop };
  }, 'postgres');
});
