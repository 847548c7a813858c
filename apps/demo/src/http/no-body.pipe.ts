import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

/**
 * For commands that take no body: an absent or empty JSON object passes, any property is refused
 * the way the validation pipe refuses unknown properties, instead of being silently ignored.
 */
@Injectable()
export class NoBodyPipe implements PipeTransform<unknown, undefined> {
  transform(value: unknown): undefined {
    if (value === undefined || value === null) return undefined;
    const keys = typeof value === 'object' ? Object.keys(value) : [];
    if (keys.length > 0) throw new BadRequestException(keys.map((key) => `property ${key} should not exist`));
    return undefined;
  }
}
