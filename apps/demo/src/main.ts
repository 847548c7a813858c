import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { demoConfigFromEnv } from './config/demo-config.js';
import { createDemoApp } from './demo-app.factory.js';

const config = demoConfigFromEnv();
const app = await createDemoApp(config);
await app.listen(config.port);
const telemetry = [
  ...(config.telemetry?.otlpEndpoint ? [`OTLP to ${config.telemetry.otlpEndpoint}`] : []),
  ...(config.telemetry?.metrics === 'prometheus' ? ['Prometheus metrics at /metrics'] : []),
];
new Logger('Demo').log(
  `Chronicle demo bank on http://localhost:${config.port} (${config.databaseUrl ? 'PostgreSQL' : `SQLite ${config.sqlitePath}`}); API docs at /docs` +
    (telemetry.length > 0 ? `; ${telemetry.join(', ')}` : ''),
);
