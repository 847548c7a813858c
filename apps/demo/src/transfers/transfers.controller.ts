import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { POSITION_HEADER, POSITION_HEADER_DOC, readCommandHeaders } from '../http/command-headers.js';
import { IdParamPipe } from '../http/id-param.pipe.js';
import { RequestTransferDto } from './dto/request-transfer.dto.js';
import { TransferViewDto } from './dto/transfer-view.dto.js';
import { TransfersService } from './transfers.service.js';

/** Money transfers between accounts, carried out by the money-transfer saga. */
@ApiTags('transfers')
@Controller('transfers')
export class TransfersController {
  constructor(private readonly transfers: TransfersService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Request a transfer; it runs in the background (poll GET /transfers/:id)' })
  @ApiResponse({ status: 202, type: TransferViewDto, headers: POSITION_HEADER_DOC })
  @ApiResponse({ status: 400, description: 'malformed JSON, an invalid body or header' })
  @ApiResponse({ status: 413, description: 'body over 64 KiB' })
  @ApiResponse({ status: 415, description: 'a body that is not application/json' })
  @ApiResponse({ status: 422, description: 'the same account on both sides, or a reused Idempotency-Key' })
  @ApiResponse({ status: 503, description: 'overloaded or the database is unreachable' })
  // The name is the one @Headers() reads, so the OpenAPI document lists the header once.
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A retry with the same key and body is the same transfer.' })
  async request(
    @Body() body: RequestTransferDto,
    @Res({ passthrough: true }) response: Response,
    @Headers('Idempotency-Key') key?: string,
  ): Promise<TransferViewDto> {
    const { view, position } = await this.transfers.request(body.from, body.to, body.amount, readCommandHeaders(key, undefined));
    if (position) response.setHeader(POSITION_HEADER, position);
    return view;
  }

  @Get(':id')
  @ApiOperation({ summary: 'A transfer: pending, completed or failed (with a reason)' })
  @ApiResponse({ status: 200, type: TransferViewDto })
  @ApiResponse({ status: 400, description: 'an invalid id' })
  @ApiResponse({ status: 404, description: 'unknown transfer' })
  @ApiResponse({ status: 503, description: 'the database is unreachable' })
  get(@Param('id', new IdParamPipe('transfer')) id: string): Promise<TransferViewDto> {
    return this.transfers.get(id);
  }
}
