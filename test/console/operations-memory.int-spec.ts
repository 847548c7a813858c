import { describe } from '@jest/globals';
import { createInMemoryStorage } from '@chronicle/core';
import { operationsScenario } from './operations.scenario.js';

describe('ChronicleOperations in memory', () => {
  operationsScenario(async () => ({ storage: createInMemoryStorage(), close: async () => undefined }));
});
