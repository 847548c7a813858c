import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';
import { decisionHandlerSuite } from './decision-handler.suite.js';

await describePostgres('decision handlers on PostgreSQL', () => {
  decisionHandlerSuite('PostgreSQL (a fresh schema, two pools)', () => openPostgresSchema());
});
