import { BadRequestException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** How deep a JSON body may nest; the API's bodies are flat objects. */
export const MAX_JSON_DEPTH = 32;

/**
 * Keys that class-transformer drops without a word (a guard against prototype pollution), so
 * the validation pipe would never report them as unknown properties: refused here instead.
 */
const DROPPED_KEYS = new Set(['__proto__', 'constructor']);

/**
 * Checks the shape of a parsed JSON body and of the query before validation: the body is an
 * object (the JSON parser also lets arrays through), it nests at most {@link MAX_JSON_DEPTH}
 * levels (deeper bodies overflow the stack of the recursive transformer: a 500), and neither
 * holds a key the transformer would silently drop.
 */
export function checkJsonShape(request: Request, _response: Response, next: NextFunction): void {
  try {
    const body: unknown = request.body;
    if (Array.isArray(body)) throw new BadRequestException('The request body must be a JSON object, not an array.');
    if (body !== undefined && body !== null && typeof body === 'object') checkTree(body);
    checkTree(request.query as object);
    next();
  } catch (error) {
    next(error);
  }
}

/** Walks a parsed value without recursion (the point is not to overflow the stack). */
function checkTree(root: object): void {
  const pending: Array<{ value: object; depth: number }> = [{ value: root, depth: 1 }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    if (item.depth > MAX_JSON_DEPTH) throw new BadRequestException(`The request nests more than ${MAX_JSON_DEPTH} levels deep.`);
    for (const key of Object.keys(item.value)) {
      if (DROPPED_KEYS.has(key)) throw new BadRequestException([`property ${key} should not exist`]);
      const child: unknown = (item.value as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') pending.push({ value: child, depth: item.depth + 1 });
    }
  }
}
