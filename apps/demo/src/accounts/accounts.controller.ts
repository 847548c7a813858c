import { applyDecorators, Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, ValidationPipe } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { POSITION_HEADER, POSITION_HEADER_DOC, readCommandHeaders } from '../http/command-headers.js';
import { IdParamPipe } from '../http/id-param.pipe.js';
import { NoBodyPipe } from '../http/no-body.pipe.js';
import { AccountsService, type AccountWrite } from './accounts.service.js';
import { AccountSummaryDto } from './dto/account-summary.dto.js';
import { ListAccountsQuery } from './dto/list-accounts.query.js';
import { AccountEventDto } from './dto/account-event.dto.js';
import { AccountViewDto } from './dto/account-view.dto.js';
import { AmountDto } from './dto/amount.dto.js';
import { OpenAccountDto } from './dto/open-account.dto.js';

const ACCOUNT_ID = new IdParamPipe('account');

// The names are the ones @Headers() reads, so the OpenAPI document lists each header once.
const IDEMPOTENCY_KEY = 'Idempotency-Key';
const IF_MATCH = 'If-Match';
const idempotencyKey = ApiHeader({
  name: IDEMPOTENCY_KEY,
  required: false,
  description: 'A retry with the same key and body returns the first status and body and writes nothing.',
});
const ifMatch = ApiHeader({ name: IF_MATCH, required: false, description: 'The expected version, quoted: "3". A stale one is a 409.' });
/** What a write can answer besides its success. */
const writeErrors = applyDecorators(
  ApiResponse({ status: 400, description: 'malformed JSON, an invalid body or header' }),
  ApiResponse({ status: 409, description: 'stale If-Match' }),
  ApiResponse({ status: 413, description: 'body over 64 KiB' }),
  ApiResponse({ status: 415, description: 'a body that is not application/json, or in an unsupported charset or encoding' }),
  ApiResponse({ status: 422, description: 'a broken rule: insufficient funds, a closed account, a reused Idempotency-Key' }),
  ApiResponse({ status: 503, description: 'overloaded or the database is unreachable' }),
);
/** What a read of one account can answer besides its success. */
const readErrors = applyDecorators(
  ApiResponse({ status: 400, description: 'an invalid id' }),
  ApiResponse({ status: 503, description: 'the database is unreachable' }),
);
const unknownAccount = ApiResponse({ status: 404, description: 'unknown account' });
/** The success of a write: the account as the command left it, and the write's position. */
const written = (status: 200 | 201) => ApiResponse({ status, type: AccountViewDto, headers: POSITION_HEADER_DOC });

/** Bank accounts over HTTP: JSON in and out, amounts in integer cents. */
@ApiTags('accounts')
@Controller('accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @ApiOperation({
    summary: 'Open an account',
    description: 'An owner holds at most CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER open accounts (default 5); beyond, a 422 naming the limit. Closing one frees a place.',
  })
  @written(201)
  @writeErrors
  @idempotencyKey
  @ApiHeader({ name: IF_MATCH, required: false, description: 'A new account is at version 0: only "0" passes; any other is a 409.' })
  async open(
    @Res({ passthrough: true }) response: Response,
    @Body() body: OpenAccountDto,
    @Headers(IDEMPOTENCY_KEY) key?: string,
    @Headers(IF_MATCH) match?: string,
  ): Promise<AccountViewDto> {
    return withPosition(response, await this.accounts.open(body.owner, readCommandHeaders(key, match)));
  }

  @Post(':id/deposits')
  @HttpCode(200)
  @ApiOperation({ summary: 'Deposit money' })
  @written(200)
  @writeErrors
  @unknownAccount
  @idempotencyKey
  @ifMatch
  async deposit(
    @Res({ passthrough: true }) response: Response,
    @Param('id', ACCOUNT_ID) id: string,
    @Body() body: AmountDto,
    @Headers(IDEMPOTENCY_KEY) key?: string,
    @Headers(IF_MATCH) match?: string,
  ): Promise<AccountViewDto> {
    return withPosition(response, await this.accounts.deposit(id, body.amount, readCommandHeaders(key, match)));
  }

  @Post(':id/withdrawals')
  @HttpCode(200)
  @ApiOperation({ summary: 'Withdraw money (422 when funds are insufficient)' })
  @written(200)
  @writeErrors
  @unknownAccount
  @idempotencyKey
  @ifMatch
  async withdraw(
    @Res({ passthrough: true }) response: Response,
    @Param('id', ACCOUNT_ID) id: string,
    @Body() body: AmountDto,
    @Headers(IDEMPOTENCY_KEY) key?: string,
    @Headers(IF_MATCH) match?: string,
  ): Promise<AccountViewDto> {
    return withPosition(response, await this.accounts.withdraw(id, body.amount, readCommandHeaders(key, match)));
  }

  @Post(':id/close')
  @HttpCode(200)
  @ApiOperation({ summary: 'Close an account; later commands to it are refused with 422' })
  @written(200)
  @writeErrors
  @unknownAccount
  @idempotencyKey
  @ifMatch
  async close(
    @Res({ passthrough: true }) response: Response,
    @Param('id', ACCOUNT_ID) id: string,
    @Body(NoBodyPipe) _body: undefined,
    @Headers(IDEMPOTENCY_KEY) key?: string,
    @Headers(IF_MATCH) match?: string,
  ): Promise<AccountViewDto> {
    return withPosition(response, await this.accounts.close(id, readCommandHeaders(key, match)));
  }

  @Post(':id/forget')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Forget the account's owner (right to erasure): the name's data key is destroyed and every read shows owner null; " +
      'messages published before (RabbitMQ) are outside the store\'s reach',
  })
  @written(200)
  @writeErrors
  @unknownAccount
  @idempotencyKey
  async forget(
    @Res({ passthrough: true }) response: Response,
    @Param('id', ACCOUNT_ID) id: string,
    @Body(NoBodyPipe) _body: undefined,
    @Headers(IDEMPOTENCY_KEY) key?: string,
  ): Promise<AccountViewDto> {
    return withPosition(response, await this.accounts.forget(id, readCommandHeaders(key, undefined)));
  }

  @Get()
  @ApiOperation({ summary: 'Accounts from the balances projection; with after=<Chronicle-Position> it waits until they reflect that write' })
  @ApiResponse({ status: 200, type: [AccountSummaryDto] })
  @ApiResponse({ status: 400, description: 'an invalid query' })
  @ApiResponse({ status: 503, description: 'the projection did not reach `after` in time, or the database is unreachable' })
  list(@Query(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true })) query: ListAccountsQuery): Promise<AccountSummaryDto[]> {
    return this.accounts.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'An account, reflecting every write acknowledged before the request' })
  @ApiResponse({ status: 200, type: AccountViewDto, headers: { ETag: { description: 'the version, quoted', schema: { type: 'string' } } } })
  @readErrors
  @unknownAccount
  async get(@Param('id', ACCOUNT_ID) id: string, @Res({ passthrough: true }) response: Response): Promise<AccountViewDto> {
    const view = await this.accounts.get(id);
    response.setHeader('ETag', `"${view.version}"`);
    return view;
  }

  @Get(':id/events')
  @ApiOperation({ summary: "An account's stored events, oldest first" })
  @ApiResponse({ status: 200, type: [AccountEventDto] })
  @readErrors
  @unknownAccount
  events(@Param('id', ACCOUNT_ID) id: string): Promise<AccountEventDto[]> {
    return this.accounts.events(id);
  }
}

/** The account as the command left it; the write's position goes into the Chronicle-Position header. */
function withPosition(response: Response, write: AccountWrite): AccountViewDto {
  if (write.position) response.setHeader(POSITION_HEADER, write.position);
  return write.view;
}
