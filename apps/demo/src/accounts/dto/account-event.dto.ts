import { ApiProperty } from '@nestjs/swagger';

/** One stored event of an account. */
export class AccountEventDto {
  @ApiProperty({ example: 'account.money-deposited' }) type!: string;
  @ApiProperty() version!: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) payload!: unknown;
  @ApiProperty() occurredAt!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
}
