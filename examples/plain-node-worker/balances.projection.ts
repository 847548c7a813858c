import type { EntityManager } from 'typeorm';
import { On, Projection, type ProjectionContext } from '@chronicle/core';
import { AccountOpened, Deposited, Withdrawn } from './account.aggregate.js';

/**
 * The balances read model, a table of the application's own. Exactly once: each write goes through
 * `ctx.tx`, the transaction that also moves the projection's checkpoint.
 */
@Projection({ name: 'balances' })
export class BalancesProjection {
  static readonly TABLE = 'account_balances';

  /** Creates the read model's table (the application owns it, not Chronicle's migrations). */
  static async createTable(manager: EntityManager): Promise<void> {
    await manager.query(`CREATE TABLE IF NOT EXISTS ${BalancesProjection.TABLE} (account_id TEXT PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL)`);
  }

  @On(AccountOpened)
  async opened(event: AccountOpened, ctx: ProjectionContext<EntityManager>): Promise<void> {
    await ctx.tx.query(`INSERT INTO ${BalancesProjection.TABLE} (account_id, owner, balance) VALUES (?, ?, 0)`, [event.accountId, event.owner]);
  }

  @On(Deposited)
  async deposited(event: Deposited, ctx: ProjectionContext<EntityManager>): Promise<void> {
    await ctx.tx.query(`UPDATE ${BalancesProjection.TABLE} SET balance = balance + ? WHERE account_id = ?`, [event.amount, event.accountId]);
  }

  @On(Withdrawn)
  async withdrawn(event: Withdrawn, ctx: ProjectionContext<EntityManager>): Promise<void> {
    await ctx.tx.query(`UPDATE ${BalancesProjection.TABLE} SET balance = balance - ? WHERE account_id = ?`, [event.amount, event.accountId]);
  }
}
