import { BadRequestException, Inject, Injectable, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { CommandBus } from '@nestjs/cqrs';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import { CHRONICLE_JOURNAL, SubscriptionAdmin } from '@chronicle/nestjs';
import { Chronicle, CommandGateway, ProjectionWaitTimeoutError, withCommandMetadata, type CommandResult, type Journal } from '@chronicle/core';
import { AccountBalance } from '../balances/account-balance.entity.js';
import type { DemoConfig } from '../config/demo-config.js';
import { DEMO_CONFIG } from '../outbox/demo-config.token.js';
import type { CommandHeaders } from '../http/command-headers.js';
import { Account } from './account.aggregate.js';
import { CloseAccount } from './commands/close-account.command.js';
import { DepositMoney } from './commands/deposit-money.command.js';
import { ForgetAccountOwner } from './commands/forget-account-owner.command.js';
import { OpenAccount } from './commands/open-account.command.js';
import { WithdrawMoney } from './commands/withdraw-money.command.js';
import type { AccountEventDto } from './dto/account-event.dto.js';
import type { AccountSummaryDto } from './dto/account-summary.dto.js';
import type { ListAccountsQuery } from './dto/list-accounts.query.js';
import type { AccountViewDto } from './dto/account-view.dto.js';

/** Namespace of account ids derived from idempotency keys (so a retried open yields the same id). */
const ACCOUNT_ID_NAMESPACE = '5b0c3f0e-2f57-4c6e-9d67-0c6f6f3a3c11';

/** A command's answer: the account as of the command, and the write's position in the feed. */
export interface AccountWrite {
  view: AccountViewDto;
  position?: string;
}

/** The demo's use cases: commands through the CommandBus, reads through the gateway, the journal and the balances projection. */
@Injectable()
export class AccountsService {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly gateway: CommandGateway,
    private readonly chronicle: Chronicle,
    @Inject(CHRONICLE_JOURNAL) private readonly journal: Journal,
    private readonly subscriptions: SubscriptionAdmin,
    @InjectRepository(AccountBalance) private readonly balances: Repository<AccountBalance>,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  /**
   * Accounts from the balances projection, by id. With `after` (a write's position), waits until
   * the projection has passed that write, so the list reflects it; 503 if it does not in time.
   */
  async list(query: ListAccountsQuery): Promise<AccountSummaryDto[]> {
    if (query.after !== undefined) {
      await this.checkPosition(query.after);
      try {
        await this.subscriptions.waitForProjection('balances', query.after, this.config.readYourWritesTimeoutMs ?? 5_000);
      } catch (error) {
        if (error instanceof ProjectionWaitTimeoutError) throw new ServiceUnavailableException(error.message);
        throw error;
      }
    }
    const rows = await this.balances.find({
      where: query.owner === undefined ? {} : { owner: query.owner },
      order: { id: 'ASC' },
      take: query.limit ?? 50,
      skip: query.offset ?? 0,
    });
    return rows.map((row) => ({ id: row.id, owner: row.owner, balance: row.balance, closed: row.closed }));
  }

  open(owner: string, headers: CommandHeaders): Promise<AccountWrite> {
    // With a key, the id derives from it: a retry sends the very same command, and is answered
    // with the first outcome instead of opening a second account.
    const id = headers.idempotencyKey ? uuidv5(headers.idempotencyKey, ACCOUNT_ID_NAMESPACE) : uuidv7();
    return this.run(new OpenAccount(id, owner), headers);
  }

  deposit(id: string, amount: number, headers: CommandHeaders): Promise<AccountWrite> {
    return this.run(new DepositMoney(id, amount), headers);
  }

  withdraw(id: string, amount: number, headers: CommandHeaders): Promise<AccountWrite> {
    return this.run(new WithdrawMoney(id, amount), headers);
  }

  close(id: string, headers: CommandHeaders): Promise<AccountWrite> {
    return this.run(new CloseAccount(id), headers);
  }

  /**
   * Forgets the account's owner (the right to erasure): destroys the account's data key, so every
   * stored copy of the name (events, outbox entries, snapshots) reads as null from now on, then
   * records `account.owner-forgotten`, which drops the name from this instance's aggregate and from
   * the balances read model. The key goes first: if the command then fails, a retry finishes it
   * (both steps are idempotent).
   */
  async forget(id: string, headers: CommandHeaders): Promise<AccountWrite> {
    if (!(await this.gateway.read(Account, id))) throw new NotFoundException(`Account ${id} does not exist.`);
    await this.chronicle.forget(id, { evict: [{ aggregate: Account, id }] });
    return this.run(new ForgetAccountOwner(id), headers);
  }

  async get(id: string): Promise<AccountViewDto> {
    const view = await this.gateway.read(Account, id);
    if (!view) throw new NotFoundException(`Account ${id} does not exist.`);
    return toView(view.state, view.version);
  }

  async events(id: string): Promise<AccountEventDto[]> {
    const streamId = `account-${id}`;
    if (!(await this.journal.streamInfo(streamId))) throw new NotFoundException(`Account ${id} does not exist.`);
    const events = await this.journal.readStream(streamId);
    return events.map((event) => ({
      type: event.type,
      version: event.version,
      payload: event.payload,
      occurredAt: event.occurredAt.toISOString(),
      metadata: { ...event.metadata },
    }));
  }

  /**
   * Refuses an `after` that no write of this service can have returned, instead of waiting the
   * whole timeout for it (a 503 that a retry cannot cure): one in another database's cursor
   * format, or one past the newest position in the journal.
   */
  private async checkPosition(after: string): Promise<void> {
    try {
      this.journal.compareCursors(after, after);
    } catch {
      throw new BadRequestException(`after=${after} is not a Chronicle-Position of this service: pass the Chronicle-Position header of a write.`);
    }
    // Both cursor formats end in the event's global position.
    const position = BigInt(after.slice(after.lastIndexOf(':') + 1));
    const newest = await this.journal.headPosition();
    if (position > BigInt(newest)) {
      throw new BadRequestException(`after=${after} is ahead of the journal, whose newest position is ${newest}: pass the Chronicle-Position header of a write.`);
    }
  }

  /**
   * Executes a command; the answer is the account as of the command's version. A fresh outcome
   * carries that state; a replayed one does not, so the account is rebuilt at the recorded version.
   */
  private async run(command: OpenAccount | DepositMoney | WithdrawMoney | CloseAccount | ForgetAccountOwner, headers: CommandHeaders): Promise<AccountWrite> {
    const result: CommandResult<object, Account> = await this.commandBus.execute(
      withCommandMetadata(command, { commandId: headers.idempotencyKey, expectedVersion: headers.expectedVersion }),
    );
    // An open is a decision: its result carries the decision's state, not the account's.
    const account = result.state instanceof Account ? result.state : (await this.gateway.readAt(Account, result.aggregateId, result.version))?.state;
    if (!account) throw new Error(`Account ${result.aggregateId} has no version ${result.version} after a successful command.`);
    return { view: toView(account, result.version), ...(result.cursor ? { position: result.cursor } : {}) };
  }
}

function toView(account: Account, version: number): AccountViewDto {
  return { id: account.id, owner: account.owner, balance: account.balance, version, closed: account.closed };
}
