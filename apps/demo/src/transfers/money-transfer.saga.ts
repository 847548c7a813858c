import { Inject, Injectable } from '@nestjs/common';
import { AggregateNotFoundError, DomainRuleViolation, OnDeadline, Saga, StartsSaga, type SagaCommandOutcome, type SagaContext } from '@chronicle/core';
import { DepositMoney } from '../accounts/commands/deposit-money.command.js';
import { RefundMoney } from '../accounts/commands/refund-money.command.js';
import { WithdrawMoney } from '../accounts/commands/withdraw-money.command.js';
import type { DemoConfig } from '../config/demo-config.js';
import { DEMO_CONFIG } from '../outbox/demo-config.token.js';
import { CompleteTransfer } from './commands/complete-transfer.command.js';
import { FailTransfer } from './commands/fail-transfer.command.js';
import { TransferRequested } from './events/transfer-requested.event.js';

/** The step a transfer is at: each is one command, sent under a fixed key (so a resend is deduplicated). */
export type TransferStep = 'debit' | 'credit' | 'refund' | 'finish';

/** The saga's persisted state. */
export interface TransferState {
  transferId: string;
  from: string;
  to: string;
  amount: number;
  step: TransferStep;
  /** How the transfer ends, once known. */
  outcome?: 'completed' | 'failed';
  reason?: string;
  /** Resends of the pending step after an unknown outcome. */
  resends: number;
}

/** The deadline that resends a step whose outcome was unknown. */
export const STEP_TIMEOUT = 'step-timeout';

/**
 * Moves money between two accounts: debit the source, credit the target, and when the credit is
 * refused (target closed or unknown) refund the source; then record the outcome on the transfer.
 *
 * Money is never created or destroyed: every step is one command with a deterministic id
 * (`money-transfer:<transfer>:<step>`). When a step's outcome is unknown (overload, an outage), the
 * saga keeps the step and sets a deadline; at the deadline it resends the same command id, which the
 * gateway answers from the recorded outcome if it did run. It compensates only on a recorded rejection.
 */
@Saga({ name: 'money-transfer' })
@Injectable()
export class MoneyTransferSaga {
  private readonly stepTimeoutMs: number;

  constructor(@Inject(DEMO_CONFIG) config: Pick<DemoConfig, 'transferStepTimeoutMs'>) {
    this.stepTimeoutMs = config.transferStepTimeoutMs ?? 30_000;
  }

  @StartsSaga(TransferRequested, { associate: 'transferId' })
  async start(event: TransferRequested, ctx: SagaContext<TransferState>): Promise<void> {
    ctx.state = { transferId: event.transferId, from: event.from, to: event.to, amount: event.amount, step: 'debit', resends: 0 };
    await this.advance(ctx);
  }

  @OnDeadline(STEP_TIMEOUT)
  async resend(_deadline: unknown, ctx: SagaContext<TransferState>): Promise<void> {
    ctx.state.resends += 1;
    await this.advance(ctx);
  }

  /** Runs the steps in turn until the transfer is recorded, or a step's outcome is unknown. */
  private async advance(ctx: SagaContext<TransferState>): Promise<void> {
    const state = ctx.state;
    for (;;) {
      switch (state.step) {
        case 'debit': {
          const outcome = await ctx.dispatch(new WithdrawMoney(state.from, state.amount), { key: 'debit' });
          if (this.unknown(outcome, ctx)) return;
          if (outcome.status === 'rejected') {
            this.finish(state, 'failed', `The debit of ${state.from} was refused: ${refusal(state.from, outcome.error)}`);
          } else {
            state.step = 'credit';
          }
          break;
        }
        case 'credit': {
          const outcome = await ctx.dispatch(new DepositMoney(state.to, state.amount), { key: 'credit' });
          if (this.unknown(outcome, ctx)) return;
          if (outcome.status === 'rejected') {
            state.step = 'refund';
            state.reason = `The credit of ${state.to} was refused: ${refusal(state.to, outcome.error)}`;
          } else {
            this.finish(state, 'completed');
          }
          break;
        }
        case 'refund': {
          const outcome = await ctx.dispatch(new RefundMoney(state.from, state.amount, state.transferId), { key: 'refund' });
          if (this.unknown(outcome, ctx)) return;
          if (outcome.status === 'rejected') {
            // Not expected (a refund is accepted even by a closed account): keep the reason visible.
            state.reason = `${state.reason ?? ''} The refund of ${state.from} was refused too: ${refusal(state.from, outcome.error)}`.trim();
          }
          this.finish(state, 'failed', state.reason);
          break;
        }
        case 'finish': {
          const command =
            state.outcome === 'completed' ? new CompleteTransfer(state.transferId) : new FailTransfer(state.transferId, state.reason ?? 'failed');
          const outcome = await ctx.dispatch(command, { key: 'finish' });
          if (this.unknown(outcome, ctx)) return;
          ctx.complete();
          return;
        }
      }
    }
  }

  private finish(state: TransferState, outcome: 'completed' | 'failed', reason?: string): void {
    state.step = 'finish';
    state.outcome = outcome;
    if (reason !== undefined) state.reason = reason;
  }

  /** An unknown outcome keeps the step and sets the deadline that resends it. */
  private unknown(outcome: SagaCommandOutcome, ctx: SagaContext<TransferState>): boolean {
    if (outcome.status !== 'unknown') return false;
    ctx.schedule(STEP_TIMEOUT, { afterMs: this.stepTimeoutMs });
    return true;
  }
}

/**
 * Why a step was refused, as API clients read it in the transfer's `reason`: the demo's own words.
 * The account aggregate's rules already speak to clients; a library rejection is matched by its
 * code and worded here, so no library wording (or internal detail) reaches a client.
 */
function refusal(accountId: string, error: Error): string {
  if ((error as { code?: unknown }).code === AggregateNotFoundError.CODE) return `Account ${accountId} does not exist.`;
  if (error instanceof DomainRuleViolation) return error.message;
  // The request was validated before the transfer was recorded: a command the account refuses as invalid is not expected.
  return `the request is not valid for account ${accountId}.`;
}
