import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { corruptEventsSuite } from './corrupt-events.suite.js';

await describePostgres('corrupt stored events on PostgreSQL', () => {
  corruptEventsSuite('PostgreSQL', async () => {
    const schema = uniqueSchemaName('chr_corrupt');
    const drop = await createSchema(schema);
    return { config: { databaseUrl: POSTGRES_URL, schema }, cleanup: drop };
  });
});
