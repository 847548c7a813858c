import { Module, type DynamicModule, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule, getDataSourceToken, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { CommandGateway, type ClassType, type CommandGatewayOptions, type Journal, type OutboxStore, type SnapshotStore } from '@chronicle/core';
import {
  CHRONICLE_JOURNAL,
  CHRONICLE_OUTBOX_STORE,
  CHRONICLE_SNAPSHOT_STORE,
  EventSourcingModule,
  OutboxMonitor,
  type OutboxModuleOptions,
  type PersonalDataModuleOptions,
} from '@chronicle/nestjs';
import { BenchLedger } from '../domain/bench-ledger.aggregate.js';
import { POSTGRES_URL } from './postgres.js';

/** Where a bench app keeps its events. */
export type BenchStorage =
  | { kind: 'postgres'; schema: string; poolSize: number }
  | { kind: 'sqlite'; file: string };

export interface BenchAppOptions {
  storage: BenchStorage;
  /** Outbox handler providers (the app discovers them like any application's). */
  handlers?: Type[];
  outbox?: OutboxModuleOptions;
  /** Gateway options; omitted means the library's defaults (what the bench is meant to measure). */
  gateway?: CommandGatewayOptions;
  /** The aggregates. @default [BenchLedger] */
  aggregates?: ClassType[];
  /** Crypto-shredding (the module's `personalData` option). */
  personalData?: PersonalDataModuleOptions;
}

/** A booted application and the public handles the scenarios use. */
export interface BenchApp {
  context: INestApplicationContext;
  commandBus: CommandBus;
  gateway: CommandGateway;
  journal: Journal;
  snapshots: SnapshotStore;
  outbox: OutboxStore;
  monitor: OutboxMonitor;
  dataSource: DataSource;
  close(): Promise<void>;
}

function typeOrmOptions(storage: BenchStorage, name: string): TypeOrmModuleOptions {
  if (storage.kind === 'postgres') {
    // `driver` explicitly, as the demo does: TypeORM's own require('pg') fails under some ESM loaders.
    return { name, type: 'postgres', driver: pg, url: POSTGRES_URL, poolSize: storage.poolSize, retryAttempts: 1 };
  }
  return { name, type: 'better-sqlite3', database: storage.file, enableWAL: true, retryAttempts: 1 };
}

let booted = 0;

@Module({})
class BenchAppModule {
  static create(options: BenchAppOptions, dataSource: string): DynamicModule {
    return {
      module: BenchAppModule,
      imports: [
        TypeOrmModule.forRoot(typeOrmOptions(options.storage, dataSource)),
        CqrsModule.forRoot(),
        ScheduleModule.forRoot(),
        EventSourcingModule.forRoot({
          aggregates: options.aggregates ?? [BenchLedger],
          dataSource,
          ...(options.personalData ? { personalData: options.personalData } : {}),
          ...(options.storage.kind === 'postgres' ? { tables: { schema: options.storage.schema } } : {}),
          ...(options.outbox ? { outbox: options.outbox } : {}),
          ...(options.gateway ? { gateway: options.gateway } : {}),
        }),
      ],
      providers: options.handlers ?? [],
    };
  }
}

/** Boots a Nest application context with the bench ledger on the given storage. */
export async function bootBenchApp(options: BenchAppOptions): Promise<BenchApp> {
  // Several apps live in one process (relays, variants): each gets its own named DataSource.
  const dataSource = `bench-${++booted}`;
  const context = await NestFactory.createApplicationContext(BenchAppModule.create(options, dataSource), {
    logger: ['error', 'warn'],
    abortOnError: false,
  });
  return {
    context,
    commandBus: context.get(CommandBus),
    gateway: context.get(CommandGateway),
    journal: context.get<Journal>(CHRONICLE_JOURNAL),
    snapshots: context.get<SnapshotStore>(CHRONICLE_SNAPSHOT_STORE),
    outbox: context.get<OutboxStore>(CHRONICLE_OUTBOX_STORE),
    monitor: context.get(OutboxMonitor),
    dataSource: context.get<DataSource>(getDataSourceToken(dataSource)),
    close: () => context.close(),
  };
}
