import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * Refuses a request body that is not `application/json` with 415, before the JSON parser skips
 * it: a form or a text body would otherwise reach validation as `{}` and be answered with
 * "owner must be a string", which names the wrong problem. A request without a body passes.
 */
export function requireJsonBody(request: Request, _response: Response, next: NextFunction): void {
  const length = request.headers['content-length'];
  const hasBody = request.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) > 0);
  if (hasBody && !request.is('application/json')) {
    const type = request.headers['content-type'];
    next(new UnsupportedMediaTypeException(`Content-Type must be application/json${type ? `, not ${type.split(';')[0]}` : ' (none was sent)'}.`));
    return;
  }
  next();
}
