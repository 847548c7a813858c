import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { On, Projection, type ProjectionContext, type RebuildableProjection } from '@chronicle/core';
import { AccountClosed } from '../accounts/events/account-closed.event.js';
import { AccountOpened } from '../accounts/events/account-opened.event.js';
import { AccountOwnerForgotten } from '../accounts/events/account-owner-forgotten.event.js';
import { MoneyDeposited } from '../accounts/events/money-deposited.event.js';
import { MoneyRefunded } from '../accounts/events/money-refunded.event.js';
import { MoneyWithdrawn } from '../accounts/events/money-withdrawn.event.js';
import { AccountBalance } from './account-balance.entity.js';

/**
 * The balances read model behind `GET /accounts`: one row per account, written through the
 * transaction that moves the projection's checkpoint (`ctx.tx`), so each event counts exactly once.
 */
@Projection({ name: 'balances' })
@Injectable()
export class BalancesProjection implements RebuildableProjection<EntityManager> {
  @On(AccountOpened)
  async opened(event: AccountOpened, { tx, envelope }: ProjectionContext<EntityManager>): Promise<void> {
    await tx.getRepository(AccountBalance).insert({ id: event.accountId, owner: event.owner, balance: 0, closed: false, version: envelope.version });
  }

  @On(MoneyDeposited)
  deposited(event: MoneyDeposited, ctx: ProjectionContext<EntityManager>): Promise<void> {
    return this.move(event.accountId, event.amount, ctx);
  }

  @On(MoneyRefunded)
  refunded(event: MoneyRefunded, ctx: ProjectionContext<EntityManager>): Promise<void> {
    return this.move(event.accountId, event.amount, ctx);
  }

  @On(MoneyWithdrawn)
  withdrawn(event: MoneyWithdrawn, ctx: ProjectionContext<EntityManager>): Promise<void> {
    return this.move(event.accountId, -event.amount, ctx);
  }

  /**
   * The owner was forgotten: the row drops the name it copied from `account.opened`. A rebuild
   * reads that event's owner as null anyway (its key is destroyed); this clears the live row.
   */
  @On(AccountOwnerForgotten)
  async ownerForgotten(event: AccountOwnerForgotten, { tx, envelope }: ProjectionContext<EntityManager>): Promise<void> {
    await tx.getRepository(AccountBalance).update({ id: event.accountId }, { owner: null, version: envelope.version });
  }

  @On(AccountClosed)
  async closed(event: AccountClosed, { tx, envelope }: ProjectionContext<EntityManager>): Promise<void> {
    await tx.getRepository(AccountBalance).update({ id: event.accountId }, { closed: true, version: envelope.version });
  }

  /** Empties the read model for a rebuild (inside the rebuild's transaction). */
  async clear(tx: EntityManager): Promise<void> {
    await tx.getRepository(AccountBalance).createQueryBuilder().delete().execute();
  }

  private async move(accountId: string, delta: number, { tx, envelope }: ProjectionContext<EntityManager>): Promise<void> {
    const result = await tx
      .getRepository(AccountBalance)
      .createQueryBuilder()
      .update()
      .set({ balance: () => `balance + ${Number(delta)}`, version: envelope.version })
      .where('id = :id', { id: accountId })
      .execute();
    if (result.affected === 0) throw new Error(`Balances: account ${accountId} has no row (its opening was not projected).`);
  }
}
