import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startDemo } from '../support/demo-app.js';

const TOKEN = 'demo-token-for-the-test';

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

  it('behind a TLS proxy it trusts (CHRONICLE_TRUST_PROXY), marks the session cookie Secure; without that setting, a forwarded https is not believed', async () => {
    // What a TLS-terminating proxy on this host forwards for https://ops.example/chronicle/login.
    const login = (url: string) =>
      request(url).post('/chronicle/login').set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'ops.example').set('Origin', 'https://ops.example').type('form').send({ token: TOKEN });
    const proxied = await startDemo({ consoleToken: TOKEN, trustProxy: 'loopback' });
    try {
      const response = await login(proxied.url);
      expect(response.status).toBe(303);
      expect(String(response.headers['set-cookie'])).toMatch(/^chronicle_console=[^;]+;.*;\s*Secure(;|$)/);
    } finally {
      await proxied.close();
    }
    const direct = await startDemo({ consoleToken: TOKEN });
    try {
      const response = await login(direct.url);
      expect(response.status).toBe(303);
      expect(String(response.headers['set-cookie'])).not.toMatch(/Secure/);
    } finally {
      await direct.close();
    }
  });

  it("refuses a login another site's page posts (login CSRF): 403 and no cookie", async () => {
    const demo = await startDemo({ consoleToken: TOKEN });
    try {
      // <form enctype="text/plain" method="post" action=".../chronicle/login"> on evil.example.
      const login = await request(demo.url)
        .post('/chronicle/login')
        .set('Origin', 'https://evil.example')
        .set('Sec-Fetch-Site', 'cross-site')
        .set('Content-Type', 'text/plain')
        .send(`token=${TOKEN}`);
      expect([login.status, login.headers['set-cookie']]).toEqual([403, undefined]);
    } finally {
      await demo.close();
    }
  });
});
