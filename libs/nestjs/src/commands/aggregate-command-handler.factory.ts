import { Inject, type Type } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { CommandGateway, getCommandMetadata, type ClassType, type CommandResult } from '@chronicle/core';

/**
 * Makes the `@nestjs/cqrs` command handler of one aggregate command: a provider that hands the
 * command (and metadata attached with `withCommandMetadata`) to the gateway. One class per
 * command, because the CommandBus routes by the handler's `@CommandHandler` metadata.
 */
export function createAggregateCommandHandler(commandClass: ClassType): Type<ICommandHandler> {
  @CommandHandler(commandClass)
  class AggregateCommandHandler {
    constructor(@Inject(CommandGateway) private readonly gateway: CommandGateway) {}

    execute(command: object): Promise<CommandResult> {
      return this.gateway.execute(command, getCommandMetadata(command));
    }
  }
  Object.defineProperty(AggregateCommandHandler, 'name', { value: `${commandClass.name}AggregateHandler` });
  return AggregateCommandHandler;
}
