import type { INestApplication } from '@nestjs/common';
import { createDemoApp } from '../../apps/demo/src/demo-app.factory.js';
import type { DemoConfig } from '../../apps/demo/src/config/demo-config.js';

/** The demo's configuration as a test gives it: no port (a free one is taken), SQLite path optional. */
export type DemoTestConfig = Omit<DemoConfig, 'port' | 'sqlitePath'> & { sqlitePath?: string };

/** A demo application listening on a free port of 127.0.0.1. */
export interface RunningDemo {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/** Starts the demo exactly as `main.ts` does, on a real HTTP server. */
export async function startDemo(config: DemoTestConfig): Promise<RunningDemo> {
  const app = await createDemoApp({ sqlitePath: ':memory:', ...config, port: 0 }, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, close: () => app.close() };
}
