import { equal } from 'node:assert/strict';
import { runScenario } from './scenario.js';

// The optional peers are absent here, and must stay so for this run to mean anything.
for (const name of ['pg', 'amqplib', '@nestjs/microservices', '@nestjs/terminus', '@nats-io/transport-node']) {
  const found = await import(name).then(
    () => true,
    () => false,
  );
  equal(found, false, `${name} must not be installed for the SQLite run`);
}

await runScenario({
  name: 'sqlite',
  typeorm: { type: 'better-sqlite3', database: ':memory:', autoLoadEntities: true },
  publishers: [],
});
