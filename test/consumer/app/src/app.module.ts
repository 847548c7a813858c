import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { EventSourcingModule } from '@chronicle/nestjs';
import { BalancesProjection } from './wallet/balances.projection.js';
import { RecordingPublisher } from './wallet/recording.publisher.js';
import { Wallet } from './wallet/wallet.aggregate.js';
import { WalletController } from './wallet/wallet.controller.js';
import { WelcomeBonusSaga } from './wallet/welcome-bonus.saga.js';

/** Where the run stores its events and which extra outbox handlers it has. */
export interface Target {
  name: string;
  typeorm: TypeOrmModuleOptions;
  schema?: string;
  publishers: Provider[];
}

@Module({})
export class AppModule {
  static forTarget(target: Target): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(target.typeorm),
        CqrsModule.forRoot(),
        EventSourcingModule.forRoot({
          aggregates: [Wallet],
          registerEntities: true,
          tables: { schema: target.schema },
          outbox: { pollIntervalMs: 50 },
          subscriptions: { pollIntervalMs: 50 },
        }),
      ],
      controllers: [WalletController],
      providers: [BalancesProjection, WelcomeBonusSaga, RecordingPublisher, ...target.publishers],
    };
  }
}
