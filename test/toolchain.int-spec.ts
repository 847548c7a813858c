import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CqrsModule, CommandBus } from '@nestjs/cqrs';
import { DataSource } from 'typeorm';

@Injectable()
class Greeter { greet() { return 'hi'; } }
@Injectable()
class UsesGreeter { constructor(readonly greeter: Greeter) {} }
@Module({ imports: [CqrsModule], providers: [Greeter, UsesGreeter] })
class ProbeModule {}

describe('toolchain', () => {
  it('boots a Nest 12 testing module with DI by decorator metadata', async () => {
    const mod = await Test.createTestingModule({ imports: [ProbeModule] }).compile();
    expect(mod.get(UsesGreeter).greeter.greet()).toBe('hi');
    expect(mod.get(CommandBus)).toBeDefined();
    await mod.close();
  });
  it('opens TypeORM on better-sqlite3', async () => {
    const ds = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await ds.initialize();
    expect(await ds.query('select 1 as x')).toEqual([{ x: 1 }]);
    await ds.destroy();
  });
  it('opens TypeORM on PostgreSQL', async () => {
    const ds = new DataSource({ type: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test' });
    await ds.initialize();
    expect(await ds.query('select 1 as x')).toEqual([{ x: 1 }]);
    await ds.destroy();
  });
});
