import { ApiProperty } from '@nestjs/swagger';

/** An account as the balances read model lists it. */
export class AccountSummaryDto {
  @ApiProperty() id!: string;
  @ApiProperty({ type: String, nullable: true, description: 'personal data: null once the owner is forgotten' }) owner!: string | null;
  @ApiProperty({ description: 'integer cents' }) balance!: number;
  @ApiProperty() closed!: boolean;
}
