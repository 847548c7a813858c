import type { INestApplication } from '@nestjs/common';
import { createDemoApp } from '../../apps/demo/src/demo-app.factory.js';
import type { DemoConfig } from '../../apps/demo/src/config/demo-config.js';

/** The master key the tests' demos use unless a test gives its own (32 bytes, base64). */
export const TEST_MASTER_KEY = Buffer.alloc(32, 42).toString('base64');

/** The demo's configuration as a test gives it: no port (a free one is taken), SQLite path and master keys optional. */
export type DemoTestConfig = Omit<DemoConfig, 'port' | 'sqlitePath' | 'masterKeys'> & { sqlitePath?: string; masterKeys?: DemoConfig['masterKeys'] };

/** A demo application listening on a free port of 127.0.0.1. */
export interface RunningDemo {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/** Starts the demo exactly as `main.ts` does, on a real HTTP server. */
export async function startDemo(config: DemoTestConfig): Promise<RunningDemo> {
  const app = await createDemoApp(
    { sqlitePath: ':memory:', masterKeys: { current: { id: 'test', key: TEST_MASTER_KEY } }, ...config, port: 0 },
    { logger: false },
  );
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, close: () => app.close() };
}
