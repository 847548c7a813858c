import { InvalidCommandError, type CommandInterceptor } from '@chronicle/core';
import { getMetadataStorage, validate, type ValidationError } from 'class-validator';

/**
 * Validates commands with their class-validator decorators before they are queued. Properties
 * without decorators are refused (`forbidUnknownValues`, `whitelist` + `forbidNonWhitelisted`),
 * so a typo never reaches an aggregate. Commands without any decorator pass unchecked.
 */
export class ClassValidatorCommandInterceptor implements CommandInterceptor {
  private readonly decorated = new WeakMap<object, boolean>();

  async intercept(command: object): Promise<void> {
    if (!this.hasRules(command.constructor)) return;
    const errors = await validate(command, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
    if (errors.length === 0) return;
    const problems = flatten(errors);
    throw new InvalidCommandError(command.constructor.name, problems.join('; '), problems);
  }

  /** Whether a command class declares any class-validator rule (remembered per class). */
  private hasRules(commandClass: object): boolean {
    let known = this.decorated.get(commandClass);
    if (known === undefined) {
      known = getMetadataStorage().getTargetValidationMetadatas(commandClass as new () => object, '', true, false).length > 0;
      this.decorated.set(commandClass, known);
    }
    return known;
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
