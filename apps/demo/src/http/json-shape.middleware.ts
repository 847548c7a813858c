import { BadRequestException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** How deep a JSON body may nest; the API's bodies are flat objects. */
export const MAX_JSON_DEPTH = 32;

/**
 * Keys the validation pipe drops without a word, so it would never report them as unknown
 * properties: Nest strips `__proto__`, `prototype` and `constructor` (against prototype
 * pollution), and class-transformer skips every key whose value on a new instance is a function
 * (`toString`, `valueOf`, `hasOwnProperty`…). Refused here instead, like any unknown property.
 */
function isDroppedKey(key: string): boolean {
  return key === 'prototype' || key in Object.prototype;
}

/**
 * Checks the shape of a parsed JSON body and of the query before validation: the body is an
 * object (the JSON parser also lets arrays through), it nests at most {@link MAX_JSON_DEPTH}
 * levels (deeper bodies overflow the stack of the recursive transformer: a 500), and neither
 * holds a key the validation pipe would silently drop.
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
  const dropped = new Set<string>();
  const pending: Array<{ value: object; depth: number }> = [{ value: root, depth: 1 }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    if (item.depth > MAX_JSON_DEPTH) throw new BadRequestException(`The request nests more than ${MAX_JSON_DEPTH} levels deep.`);
    for (const key of Object.keys(item.value)) {
      if (isDroppedKey(key)) dropped.add(key);
      const child: unknown = (item.value as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') pending.push({ value: child, depth: item.depth + 1 });
    }
  }
  if (dropped.size > 0) throw new BadRequestException([...dropped].map((key) => `property ${key} should not exist`));
}
