import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

/** The largest amount one deposit or withdrawal may move, in cents. */
export const MAX_AMOUNT = 1_000_000_000;

/** Body of a deposit or a withdrawal: integer cents. */
export class AmountDto {
  @ApiProperty({ minimum: 1, maximum: MAX_AMOUNT, example: 2500, description: 'integer cents' })
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  amount!: number;
}
