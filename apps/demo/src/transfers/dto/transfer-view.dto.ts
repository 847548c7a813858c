import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { TransferStatus } from '../transfer.aggregate.js';

/** A transfer as the API returns it. */
export class TransferViewDto {
  @ApiProperty() id!: string;
  @ApiProperty() from!: string;
  @ApiProperty() to!: string;
  @ApiProperty({ description: 'integer cents' }) amount!: number;
  @ApiProperty({ enum: ['pending', 'completed', 'failed'] }) status!: TransferStatus;
  @ApiPropertyOptional({ description: 'why a transfer failed' }) reason?: string;
}
