import { createHash, timingSafeEqual } from 'node:crypto';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * The demo's console guard: the request must carry `Authorization: Bearer <CHRONICLE_CONSOLE_TOKEN>`
 * (the console presents its login cookie the same way). Compared in constant time, over SHA-256
 * digests so that the length of the token does not leak either. A real application plugs its own
 * authentication here (sessions, OIDC, mTLS…).
 */
export class DemoConsoleGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(token: string) {
    if (token.length === 0) throw new Error('DemoConsoleGuard needs a non-empty token (CHRONICLE_CONSOLE_TOKEN).');
    this.expected = createHash('sha256').update(token).digest();
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request & { user?: { id: string } }>();
    const header = request.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return false;
    const given = createHash('sha256').update(header.slice('Bearer '.length)).digest();
    if (!timingSafeEqual(given, this.expected)) return false;
    request.user = { id: 'demo operator' };
    return true;
  }
}
