import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ChronicleError } from '@chronicle/core';
import { demoConfigFromEnv, type DemoConfig } from './config/demo-config.js';
import { createDemoApp } from './demo-app.factory.js';

/** EX_CONFIG (sysexits.h): a configuration error, which a restart cannot cure. */
const EXIT_CONFIGURATION = 78;

const logger = new Logger('Demo');
let config: DemoConfig;
try {
  config = demoConfigFromEnv();
} catch (error) {
  // One line naming the error; no stack, no key material. Supervisors: do not restart on 78.
  process.stderr.write(`The demo refused to start: ${error instanceof ChronicleError ? `${error.name}: ` : ''}${(error as Error).message}\n`);
  process.exit(EXIT_CONFIGURATION);
}
if (config.masterKeySource === 'development-file') {
  logger.warn(
    `NO CHRONICLE_MASTER_KEY: the owners' names are encrypted with a development master key kept in ${config.masterKeyFile}, beside the database. ` +
      'Anyone with that folder can read them. Set CHRONICLE_MASTER_KEY (32 random bytes, base64) for anything but local work.',
  );
} else if (config.masterKeySource === 'ephemeral') {
  logger.warn('NO CHRONICLE_MASTER_KEY: an in-memory database with a random master key that ends with the process.');
}
const app = await createDemoApp(config);
await app.listen(config.port);
const telemetry = [
  ...(config.telemetry?.otlpEndpoint ? [`OTLP to ${config.telemetry.otlpEndpoint}`] : []),
  ...(config.telemetry?.metrics === 'prometheus' ? ['Prometheus metrics at /metrics'] : []),
];
logger.log(
  `Chronicle demo bank on http://localhost:${config.port} (${config.databaseUrl ? 'PostgreSQL' : `SQLite ${config.sqlitePath}`}); API docs at /docs` +
    (telemetry.length > 0 ? `; ${telemetry.join(', ')}` : ''),
);
