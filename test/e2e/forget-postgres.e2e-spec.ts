import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { forgetSuite } from './forget.suite.js';

await describePostgres('forgetting an account owner on PostgreSQL', () => {
  forgetSuite('PostgreSQL', async () => {
    const schema = uniqueSchemaName('chr_forget');
    const drop = await createSchema(schema);
    return { config: { databaseUrl: POSTGRES_URL, schema }, cleanup: drop };
  });
});
