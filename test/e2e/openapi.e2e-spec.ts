import request from 'supertest';
import { startDemo, type RunningDemo } from '../support/demo-app.js';

interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses: Record<string, { headers?: Record<string, { description?: string }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

/** Statuses only a request with a body or a command can get: no GET may list them. */
const WRITE_ONLY_STATUSES = ['409', '413', '415', '422'];

/**
 * The OpenAPI description the demo serves at /docs/openapi.json says what the endpoints do: each
 * header once with its real `required`, no write-only statuses on reads, and the Chronicle-Position
 * header on every answer that carries it.
 */
describe('the OpenAPI description of the demo', () => {
  let demo: RunningDemo;
  let document: Document;
  const operations = (): Array<[string, string, Operation]> =>
    Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]): [string, string, Operation] => [method, path, operation]));

  beforeAll(async () => {
    demo = await startDemo({});
    const served = await request(demo.url).get('/docs/openapi.json').expect(200);
    document = served.body as Document;
  });
  afterAll(() => demo.close());

  it('lists each header parameter once, optional where the demo reads it as optional', () => {
    const headers = operations().map(([method, path, operation]): [string, string[]] => [
      `${method} ${path}`,
      (operation.parameters ?? []).filter((p) => p.in === 'header').map((p) => `${p.name.toLowerCase()}:${p.required === true ? 'required' : 'optional'}`),
    ]);
    expect(Object.fromEntries(headers.filter(([, list]) => list.length > 0))).toEqual({
      'post /accounts': ['idempotency-key:optional', 'if-match:optional'],
      'post /accounts/{id}/deposits': ['idempotency-key:optional', 'if-match:optional'],
      'post /accounts/{id}/withdrawals': ['idempotency-key:optional', 'if-match:optional'],
      'post /accounts/{id}/close': ['idempotency-key:optional', 'if-match:optional'],
      'post /accounts/{id}/forget': ['idempotency-key:optional'],
      'post /transfers': ['idempotency-key:optional'],
    });
  });

  it('lists no 409, 413, 415 or 422 on a GET', () => {
    const gets = operations().filter(([method]) => method === 'get');
    expect(gets.map(([, path]) => path).sort()).toEqual(['/accounts', '/accounts/{id}', '/accounts/{id}/events', '/health', '/transfers/{id}']);
    for (const [, path, operation] of gets) {
      expect([path, Object.keys(operation.responses).filter((status) => WRITE_ONLY_STATUSES.includes(status))]).toEqual([path, []]);
    }
  });

  it('describes the Chronicle-Position header on exactly the answers that send it', async () => {
    const http = request(demo.url);
    const opened = await http.post('/accounts').send({ owner: 'Ada' }).expect(201);
    const id = (opened.body as { id: string }).id;
    const other = ((await http.post('/accounts').send({ owner: 'Bob' }).expect(201)).body as { id: string }).id;
    const transfer = await http.post('/transfers').send({ from: id, to: other, amount: 1 }).expect(202);
    const answers: Array<[string, string, request.Response]> = [
      ['post', '/accounts', opened],
      ['post', '/accounts/{id}/deposits', await http.post(`/accounts/${id}/deposits`).send({ amount: 10 }).expect(200)],
      ['post', '/accounts/{id}/withdrawals', await http.post(`/accounts/${id}/withdrawals`).send({ amount: 1 }).expect(200)],
      ['post', '/transfers', transfer],
      ['get', '/transfers/{id}', await http.get(`/transfers/${(transfer.body as { id: string }).id}`).expect(200)],
      ['post', '/accounts/{id}/close', await http.post(`/accounts/${other}/close`).expect(200)],
      ['post', '/accounts/{id}/forget', await http.post(`/accounts/${other}/forget`).expect(200)],
      ['get', '/accounts', await http.get('/accounts').expect(200)],
      ['get', '/accounts/{id}', await http.get(`/accounts/${id}`).expect(200)],
      ['get', '/accounts/{id}/events', await http.get(`/accounts/${id}/events`).expect(200)],
    ];
    // Every operation but the health check, whose answer does not depend on a write.
    expect(answers.map(([method, path]) => `${method} ${path}`).sort()).toEqual(
      operations()
        .filter(([, path]) => path !== '/health')
        .map(([method, path]) => `${method} ${path}`)
        .sort(),
    );
    for (const [method, path, answer] of answers) {
      const sent = answer.headers['chronicle-position'] !== undefined;
      const described = document.paths[path]![method]!.responses[String(answer.status)]?.headers?.['Chronicle-Position']?.description;
      expect({ operation: `${method} ${path}`, sent, described: described !== undefined }).toEqual({ operation: `${method} ${path}`, sent, described: sent });
    }
    expect(answers.filter(([, , answer]) => answer.headers['chronicle-position'] !== undefined)).toHaveLength(6);
  });
});
