import { openSqliteFile } from '../support/typeorm-test-data-sources.js';
import { cryptoShreddingScenario } from './crypto-shredding.scenario.js';

cryptoShreddingScenario('a SQLite file', () => openSqliteFile());
