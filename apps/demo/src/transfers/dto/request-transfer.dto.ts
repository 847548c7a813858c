import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Length, Max, Min } from 'class-validator';
import { IsPlainText } from '../../http/is-plain-text.decorator.js';
import { MAX_ID_LENGTH } from '../../http/id-param.pipe.js';
import { MAX_AMOUNT } from '../../accounts/dto/amount.dto.js';

/** Body of `POST /transfers`. */
export class RequestTransferDto {
  @ApiProperty({ description: 'the source account id' })
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  @IsPlainText()
  from!: string;

  @ApiProperty({ description: 'the target account id' })
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  @IsPlainText()
  to!: string;

  @ApiProperty({ minimum: 1, maximum: MAX_AMOUNT, example: 2500, description: 'integer cents' })
  @IsInt()
  @Min(1)
  @Max(MAX_AMOUNT)
  amount!: number;
}
