import type { ChronicleCliAppContext } from '@chronicle/console';
import { AppModule } from '../app.module.js';
import { demoConfigFromEnv } from '../config/demo-config.js';

/**
 * The demo as the `chronicle` CLI's `--app` loads it (`npm run chronicle -- rebuild balances --app
 * dist/apps/demo/src/cli/chronicle-cli.app.js`, or `npm run projection:rebuild -- balances`): the
 * application module from the same environment as `npm start` (DATABASE_URL, CHRONICLE_SCHEMA,
 * SQLITE_PATH), without RabbitMQ, projections, sagas or the outbox relay: the CLI's process runs
 * only the operator's command while the demo itself may keep running.
 */
export default function demoCliApp(context: ChronicleCliAppContext) {
  const config = demoConfigFromEnv(context.env);
  return AppModule.forConfig({
    ...config,
    amqpUrl: undefined,
    subscriptions: { ...config.subscriptions, ...context.subscriptions },
    outbox: { ...config.outbox, ...context.outbox },
  });
}
