import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { maxLength } from 'class-validator';
import { PLAIN_TEXT } from './is-plain-text.decorator.js';

/** The longest id the API takes, in the path or in a body (ids it makes are 36-character UUIDs). */
export const MAX_ID_LENGTH = 64;

/**
 * Checks an id from the path before it reaches the database: at most {@link MAX_ID_LENGTH}
 * characters, counted as class-validator counts them in bodies, and plain text (PostgreSQL
 * refuses NUL in a query parameter). Any other id is looked up; an unknown one is a 404.
 */
@Injectable()
export class IdParamPipe implements PipeTransform<string, string> {
  /** @param kind what the id names, for the message ("account", "transfer"). */
  constructor(private readonly kind: string) {}

  transform(value: string): string {
    if (!maxLength(value, MAX_ID_LENGTH)) {
      throw new BadRequestException(`The ${this.kind} id in the path must be at most ${MAX_ID_LENGTH} characters.`);
    }
    if (!PLAIN_TEXT.test(value)) {
      throw new BadRequestException(`The ${this.kind} id in the path must not contain control characters (such as NUL) or unpaired surrogates.`);
    }
    return value;
  }
}
