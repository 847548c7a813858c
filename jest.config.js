/**
 * Jest runs in ESM mode (Nest 12 is ESM-only): see docs/design.md, "Notes from the field".
 * Projects: `unit` (specs beside the code, in-memory and SQLite), `contract` (every port
 * implementation against one suite), `e2e` (HTTP through supertest), `reliability` (the fault
 * harness: it restarts PostgreSQL and RabbitMQ, so scripts/test.mjs runs it alone, after the others).
 */
const moduleNameMapper = {
  '^@chronicle/(core|typeorm|nestjs|testing|console)$': '<rootDir>/libs/$1/src/index.ts',
  '^@chronicle/core/internal$': '<rootDir>/libs/core/src/internal.ts',
  '^@chronicle/nestjs/(rabbitmq|microservices|terminus)$': '<rootDir>/libs/nestjs/src/$1.ts',
  '^@chronicle/testing/contracts$': '<rootDir>/libs/testing/src/contracts.ts',
  '^(\\.{1,2}/.*)\\.js$': '$1',
};
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
};
const common = {
  rootDir: '.',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper,
  transform,
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/test/setup/reflect-metadata.ts'],
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/**/*.int-spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
    { ...common, displayName: 'reliability', testMatch: ['<rootDir>/test/reliability/**/*.reliability-spec.ts'] },
  ],
};
