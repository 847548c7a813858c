import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';
import { cryptoShreddingScenario } from './crypto-shredding.scenario.js';

await describePostgres('Crypto-shredding on PostgreSQL', () => {
  cryptoShreddingScenario('PostgreSQL', () => openPostgresSchema());
});
