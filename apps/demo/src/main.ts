import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { demoConfigFromEnv } from './config/demo-config.js';
import { createDemoApp } from './demo-app.factory.js';

const config = demoConfigFromEnv();
const app = await createDemoApp(config);
await app.listen(config.port);
new Logger('Demo').log(
  `Chronicle demo bank on http://localhost:${config.port} (${config.databaseUrl ? 'PostgreSQL' : `SQLite ${config.sqlitePath}`}); API docs at /docs`,
);
