import { ApiProperty } from '@nestjs/swagger';

/** An account as the balances read model lists it. */
export class AccountSummaryDto {
  @ApiProperty() id!: string;
  @ApiProperty() owner!: string;
  @ApiProperty({ description: 'integer cents' }) balance!: number;
  @ApiProperty() closed!: boolean;
}
