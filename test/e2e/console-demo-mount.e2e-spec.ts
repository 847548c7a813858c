import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startDemo } from '../support/demo-app.js';

describe('demo bank: the operations console is mounted only with CHRONICLE_CONSOLE_TOKEN', () => {
  it('is absent (404) without a token', async () => {
    const demo = await startDemo({});
    try {
      expect((await request(demo.url).get('/chronicle').set('Accept', 'application/json')).status).toBe(404);
      expect((await request(demo.url).get('/chronicle/login')).status).toBe(404);
    } finally {
      await demo.close();
    }
  });

  it('with a token: 401 without it, the data with it (compared by the demo guard), and the JSON API still refuses forms', async () => {
    const demo = await startDemo({ consoleToken: 'demo-token-for-the-test' });
    try {
      expect((await request(demo.url).get('/chronicle').set('Accept', 'application/json')).status).toBe(401);
      expect((await request(demo.url).get('/chronicle').set('Accept', 'application/json').set('Authorization', 'Bearer demo-token-for-the-tesT')).status).toBe(401);
      const overview = await request(demo.url).get('/chronicle').set('Accept', 'application/json').set('Authorization', 'Bearer demo-token-for-the-test');
      expect(overview.status).toBe(200);
      expect(overview.body.subscriptions.map((row: { name: string }) => row.name).sort()).toEqual(['projection:balances', 'saga:money-transfer']);
      // The console's form posts are let through; the bank's API still takes JSON only.
      expect((await request(demo.url).post('/accounts').type('form').send({ owner: 'x' })).status).toBe(415);
    } finally {
      await demo.close();
    }
  });
});
