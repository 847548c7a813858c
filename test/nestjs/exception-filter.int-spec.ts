import { Body, Controller, Get, Module, NotFoundException, Param, Post as HttpPost, type INestApplication } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { CHRONICLE_EXCEPTION_FILTER_OPTIONS, ChronicleExceptionFilter, EventSourcingModule, type ChronicleExceptionFilterOptions } from '@chronicle/nestjs';
import { Ledger, OpenLedger, Post, Reverse } from '../fixtures/ledger.aggregate.js';

@Controller('ledgers')
class LedgersController {
  constructor(private readonly commands: CommandBus) {}

  @HttpPost(':id')
  open(@Param('id') id: string, @Body() body: { owner?: unknown }): Promise<unknown> {
    return this.commands.execute(new OpenLedger(id, body.owner as string));
  }

  @HttpPost(':id/postings')
  post(@Param('id') id: string, @Body() body: { amount: number }): Promise<unknown> {
    return this.commands.execute(new Post(id, body.amount));
  }

  @HttpPost(':id/reversals')
  reverse(@Param('id') id: string, @Body() body: { amount: number }): Promise<unknown> {
    return this.commands.execute(new Reverse(id, body.amount));
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException('No such page.');
  }

  @Get('broken')
  broken(): never {
    throw new Error('relation "secret_table" does not exist: SELECT * FROM secret_table');
  }
}

/** An HTTP app over in-memory storage with the filter installed as `APP_FILTER` (its options injected). */
async function start(options: ChronicleExceptionFilterOptions): Promise<INestApplication> {
  @Module({
    imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Ledger], storage: 'in-memory' })],
    controllers: [LedgersController],
    providers: [
      { provide: CHRONICLE_EXCEPTION_FILTER_OPTIONS, useValue: options },
      { provide: APP_FILTER, useClass: ChronicleExceptionFilter },
    ],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('ChronicleExceptionFilter over HTTP (Express), installed as APP_FILTER', () => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("answers Chronicle's errors in Nest's { statusCode, error, message } body", async () => {
    app = await start({});
    const http = request(app.getHttpServer());
    await http.post('/ledgers/L1').send({ owner: 'ann' }).expect(201);
    const invalid = await http.post('/ledgers/L1/postings').send({ amount: -1 }).expect(400);
    expect(invalid.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(invalid.body).toEqual({ statusCode: 400, error: 'Bad Request', message: ['amount must be a positive number'] });
    expect((await http.post('/ledgers/nobody/postings').send({ amount: 1 }).expect(404)).body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'ledger "nobody" does not exist.',
    });
    expect((await http.post('/ledgers/L1').send({ owner: 'eve' }).expect(422)).body.message).toBe('ledger "L1" already exists.');
    expect((await http.post('/ledgers/L1/reversals').send({ amount: 5 }).expect(422)).body.message).toBe('cannot reverse 5: total is 0');
    expect((await http.get('/ledgers/missing').expect(404)).body).toEqual({ statusCode: 404, message: 'No such page.', error: 'Not Found' });
    const broken = await http.get('/ledgers/broken').expect(500);
    expect(broken.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error.' });
    expect(broken.text).not.toMatch(/secret_table|SELECT/);
  });

  it('answers application/problem+json (RFC 9457) when asked to', async () => {
    app = await start({ format: 'problem+json' });
    const http = request(app.getHttpServer());
    await http.post('/ledgers/L1').send({ owner: 'ann' }).expect(201);
    const refused = await http.post('/ledgers/L1/reversals').send({ amount: 5 }).expect(422);
    expect(refused.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(refused.body).toEqual({ type: 'about:blank', title: 'Unprocessable Entity', status: 422, detail: 'cannot reverse 5: total is 0', code: 'ledger.overdraft' });
    const missing = await http.get('/ledgers/missing').expect(404);
    expect(missing.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(missing.body).toEqual({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'No such page.' });
  });
});
