import net from 'node:net';
import { startDemo, type RunningDemo } from '../support/demo-app.js';
import { POSTGRES_URL, createSchema, uniqueSchemaName } from '../support/services.js';

interface RawResponse { status: number; headers: Record<string, string>; text: string }

function raw(url: string, method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (payload && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) lines.push(`Content-Length: ${payload.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const sep = all.indexOf('\r\n\r\n');
      const headText = all.subarray(0, sep).toString('latin1');
      let bodyBuf = all.subarray(sep + 4);
      const [statusLine, ...hl] = headText.split('\r\n');
      const hs: Record<string, string> = {};
      for (const l of hl) { const i = l.indexOf(':'); hs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
      if (hs['transfer-encoding'] === 'chunked') {
        const parts: Buffer[] = []; let rest = bodyBuf;
        for (;;) { const e = rest.indexOf('\r\n'); const n = parseInt(rest.subarray(0, e).toString(), 16); if (!n) break; parts.push(rest.subarray(e + 2, e + 2 + n)); rest = rest.subarray(e + 4 + n); }
        bodyBuf = Buffer.concat(parts);
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers: hs, text: bodyBuf.toString('utf8') });
    });
    socket.write(head);
    if (payload) socket.write(payload);
  });
}

for (const db of ['sqlite', 'pg'] as const) {
  describe(`explore ${db}`, () => {
    let demo: RunningDemo; let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      if (db === 'pg') { const schema = uniqueSchemaName('chr_hx'); drop = await createSchema(schema); demo = await startDemo({ databaseUrl: POSTGRES_URL, schema }); }
      else demo = await startDemo({});
    });
    afterAll(async () => { await demo.close(); await drop?.(); });
    it('explores', async () => {
      const J = { 'Content-Type': 'application/json' };
      const acc = JSON.parse((await raw(demo.url, 'POST', '/accounts', J, '{"owner":"Ada"}')).text);
      const id = acc.id;
      const cases: Array<[string, string, Record<string, string>, (string | Buffer)?]> = [
        ['POST', '/accounts', J, '[]'],
        ['POST', '/accounts', J, '[{"owner":"x"}]'],
        ['POST', '/accounts', J, 'null'],
        ['POST', '/accounts', J, '"str"'],
        ['POST', '/accounts', J, '{"owner":"x",}'],
        ['POST', '/accounts', J, '[' .repeat(20000) + ']'.repeat(20000)],
        ['POST', '/accounts', J, '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)],
        ['POST', '/accounts', J, '{"owner":"x","__proto__":{"admin":true}}'],
        ['POST', '/accounts', J, '{"owner":"x","constructor":{"prototype":{"a":1}}}'],
        ['POST', '/accounts', J, '{"owner":"a\\u0000b"}'],
        ['POST', '/accounts', J, '{"owner":"\\ud800"}'],
        ['POST', '/accounts', { 'Content-Type': 'text/plain' }, '{"owner":"x"}'],
        ['POST', '/accounts', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'owner=x'],
        ['POST', '/accounts', {}, '{"owner":"x"}'],
        ['POST', '/accounts', { ...J, 'Content-Encoding': 'gzip' }, '{"owner":"x"}'],
        ['POST', '/accounts', { 'Content-Type': 'application/json; charset=utf-16' }, '{"owner":"x"}'],
        ['POST', '/accounts', { ...J, 'Idempotency-Key': 'clé' }, '{"owner":"x"}'],
        ['POST', '/accounts', { ...J, 'Idempotency-Key': '' }, '{"owner":"x"}'],
        ['GET', '/accounts/%00', {}],
        ['GET', '/accounts/%E0%A4%A', {}],
        ['GET', '/accounts/%ED%A0%80', {}],
        ['GET', '/accounts/' + 'x'.repeat(10000), {}],
        ['GET', '/accounts/' + 'x'.repeat(100000), {}],
        ['GET', '/transfers/%00', {}],
        ['GET', `/accounts/${id}/events`.replace(id, '%00'), {}],
        ['POST', `/accounts/%00/deposits`, J, '{"amount":1}'],
        ['POST', `/accounts/${id}/deposits`, { ...J, 'If-Match': '"999999999999999"' }, '{"amount":1}'],
        ['POST', `/accounts/${id}/deposits`, { ...J, 'If-Match': '"0"' }, '{"amount":1}'],
        ['POST', `/accounts/${id}/deposits`, J, '{"amount":1e309}'],
        ['POST', `/accounts/${id}/deposits`, J, '{"amount":9007199254740992}'],
        ['POST', `/accounts/${id}/close`, { ...J }, '{"x":1}'],
        ['POST', `/accounts/${id}/close`, { ...J }, 'not json'],
        ['POST', '/transfers', J, JSON.stringify({ from: 'a\u0000', to: 'b', amount: 0 })],
        ['POST', '/transfers', J, JSON.stringify({ from: "'; DROP TABLE x", to: "'; DROP TABLE x", amount: 1 })],
        ['GET', '/accounts?after=1:2', {}],
        ['GET', '/accounts?after=5', {}],
        ['GET', '/accounts?limit=1&limit=2', {}],
        ['GET', '/accounts?owner[]=x', {}],
        ['GET', '/accounts?owner[a]=x', {}],
        ['GET', '/accounts?owner=%00', {}],
        ['GET', '/accounts?limit=', {}],
        ['GET', '/accounts?after=99999999999999999999', {}],
        ['GET', '/accounts?after=1:99999999', {}],
        ['GET', '/accounts?__proto__=1', {}],
        ['POST', '/accounts', { ...J, 'X-Bad': 'a\u0001b' }, '{"owner":"x"}'],
        ['POST', '/accounts', { ...J, 'Transfer-Encoding': 'chunked' }, 'zz\r\nabc\r\n0\r\n\r\n'],
        ['POST', '/accounts', { ...J, 'Content-Encoding': 'bogus' }, '{"owner":"x"}'],
        ['POST', '/accounts', { 'Content-Type': 'application/json; charset=latin1' }, '{"owner":"x"}'],
        ['POST', `/accounts/nope/close`, { }, ''],
        ['GET', '/docs/openapi.json', { }],
      ];
      for (const [m, p, h, b] of cases) {
        const t = Date.now();
        const r = await raw(demo.url, m, p, h, b);
        console.log(db, m, p.slice(0, 60), JSON.stringify(h), String(b ?? '').slice(0, 60), '=>', r.status, r.text.slice(0, 300), Date.now() - t, 'ms');
      }
    }, 120000);
  });
}
