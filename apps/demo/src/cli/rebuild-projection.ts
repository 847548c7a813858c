import { NestFactory } from '@nestjs/core';
import { runProjectionRebuild } from '@chronicle/nestjs';
import { AppModule } from '../app.module.js';
import { demoConfigFromEnv } from '../config/demo-config.js';

/**
 * `npm run projection:rebuild -- <name>`: rebuilds one projection of the demo (same environment as
 * `npm start`: DATABASE_URL, CHRONICLE_SCHEMA, SQLITE_PATH) while the application may keep running.
 */
async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name) {
    process.stderr.write('usage: npm run projection:rebuild -- <projection name>   (the demo has: balances)\n');
    process.exit(2);
  }
  const config = demoConfigFromEnv();
  const app = await NestFactory.createApplicationContext(
    AppModule.forConfig({ ...config, amqpUrl: undefined, subscriptions: { ...config.subscriptions, run: false }, outbox: { ...config.outbox, relay: false } }),
    { logger: ['error', 'warn'] },
  );
  try {
    await runProjectionRebuild(app, name);
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Rebuild failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
