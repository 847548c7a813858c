import { ValidateBy, buildMessage, type ValidationOptions } from 'class-validator';

/**
 * Text without control characters (NUL, newlines, DEL…) or unpaired UTF-16 surrogates. PostgreSQL
 * refuses both in `text` and `jsonb` (SQLite stores them), so they are refused at the door on
 * every database, with a message naming the field.
 */
export const PLAIN_TEXT = /^[^\p{Cc}\p{Cs}]*$/u;

/**
 * Validates that a string property is {@link PLAIN_TEXT}. A value that is not a string passes:
 * `@IsString()` reports that.
 */
export function IsPlainText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPlainText',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || PLAIN_TEXT.test(value),
        defaultMessage: buildMessage((each) => `${each}$property must not contain control characters (such as NUL) or unpaired surrogates`, options),
      },
    },
    options,
  );
}
