import { InvalidCommandError, type CommandInterceptor } from '@chronicle/core';
import { validate, type ValidationError } from 'class-validator';

/**
 * Validates commands with their class-validator decorators before they are queued. Properties
 * without decorators are refused (`forbidUnknownValues`, `whitelist` + `forbidNonWhitelisted`),
 * so a typo never reaches an aggregate. Commands without any decorator pass unchecked.
 */
export class ClassValidatorCommandInterceptor implements CommandInterceptor {
  async intercept(command: object): Promise<void> {
    const errors = await validate(command, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
    if (errors.length === 0) return;
    const problems = flatten(errors);
    throw new InvalidCommandError(command.constructor.name, problems.join('; '), problems);
  }
}

function flatten(errors: ValidationError[], path = ''): string[] {
  return errors.flatMap((error) => {
    const property = path ? `${path}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      message.startsWith(error.property) ? `${path ? `${path}.` : ''}${message}` : `${property}: ${message}`,
    );
    return [...own, ...flatten(error.children ?? [], property)];
  });
}
