import { Body, Controller, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { CommandResult } from '@chronicle/core';
import { Withdraw } from './wallet.commands.js';

@Controller('wallets')
export class WalletController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/withdraw')
  withdraw(@Param('id') id: string, @Body() body: { amount: number }): Promise<CommandResult> {
    return this.commandBus.execute(new Withdraw(id, body.amount));
  }
}
