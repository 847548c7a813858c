import { openSqliteFile } from '../support/typeorm-test-data-sources.js';
import { decisionHandlerSuite } from './decision-handler.suite.js';

decisionHandlerSuite('SQLite (one file, two connections)', () => openSqliteFile({ wal: true }));
