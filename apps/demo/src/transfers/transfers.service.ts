import { Injectable, NotFoundException } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import { CommandGateway, withCommandMetadata, type CommandResult } from '@chronicle/core';
import type { CommandHeaders } from '../http/command-headers.js';
import { RequestTransfer } from './commands/request-transfer.command.js';
import type { TransferViewDto } from './dto/transfer-view.dto.js';
import { Transfer } from './transfer.aggregate.js';

/** Namespace of transfer ids derived from idempotency keys (a retried request yields the same transfer). */
const TRANSFER_ID_NAMESPACE = '0d5f7b1e-7a55-4a43-8f0c-2b1f5c9e6d21';

/** Requests transfers (the money-transfer saga carries them out) and reads them. */
@Injectable()
export class TransfersService {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly gateway: CommandGateway,
  ) {}

  /** Records the request; answers at once with the transfer pending, and the write's position. */
  async request(from: string, to: string, amount: number, headers: CommandHeaders): Promise<{ view: TransferViewDto; position?: string }> {
    const id = headers.idempotencyKey ? uuidv5(headers.idempotencyKey, TRANSFER_ID_NAMESPACE) : uuidv7();
    const result: CommandResult = await this.commandBus.execute(
      withCommandMetadata(new RequestTransfer(id, from, to, amount), { commandId: headers.idempotencyKey }),
    );
    // The answer to a request is the request, not how far the saga got meanwhile (also for a replay).
    return { view: { id, from, to, amount, status: 'pending' }, ...(result.cursor ? { position: result.cursor } : {}) };
  }

  async get(id: string): Promise<TransferViewDto> {
    const found = await this.gateway.read(Transfer, id);
    if (!found) throw new NotFoundException(`Transfer ${id} does not exist.`);
    const transfer = found.state;
    return {
      id: transfer.id,
      from: transfer.from,
      to: transfer.to,
      amount: transfer.amount,
      status: transfer.status,
      ...(transfer.reason === undefined ? {} : { reason: transfer.reason }),
    };
  }
}
