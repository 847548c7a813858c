import { BadRequestException } from '@nestjs/common';

/**
 * The response header carrying a write's position in the journal's feed: pass it as `after` to a
 * read of a projection (`GET /accounts?after=`) to see that write reflected.
 */
export const POSITION_HEADER = 'Chronicle-Position';

/** The OpenAPI description of {@link POSITION_HEADER}, for the responses of the writes that send it. */
export const POSITION_HEADER_DOC = {
  [POSITION_HEADER]: {
    description: "The write's position in the journal's feed: pass it as `after` to GET /accounts to read this write.",
    schema: { type: 'string', example: '42' },
  },
};

/** What the command headers of a request say. */
export interface CommandHeaders {
  /** `Idempotency-Key`: the command id. */
  idempotencyKey?: string;
  /** `If-Match: "<version>"`: the expected version. */
  expectedVersion?: number;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;
const IF_MATCH_PATTERN = /^"(0|[1-9]\d{0,14})"$/;

/** Reads and checks `Idempotency-Key` and `If-Match`; a malformed one is a 400 that names it. */
export function readCommandHeaders(idempotencyKey: string | undefined, ifMatch: string | undefined): CommandHeaders {
  const headers: CommandHeaders = {};
  if (idempotencyKey !== undefined) {
    if (!KEY_PATTERN.test(idempotencyKey)) {
      throw new BadRequestException('Idempotency-Key must be 1–200 visible ASCII characters (no spaces).');
    }
    headers.idempotencyKey = idempotencyKey;
  }
  if (ifMatch !== undefined) {
    const match = IF_MATCH_PATTERN.exec(ifMatch.trim());
    if (!match) throw new BadRequestException('If-Match must be a quoted version number, like "3" (the ETag of GET /accounts/:id).');
    headers.expectedVersion = Number(match[1]);
  }
  return headers;
}
