import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { IsPlainText } from '../../http/is-plain-text.decorator.js';

/** Query of `GET /accounts`. */
export class ListAccountsQuery {
  @ApiPropertyOptional({ description: 'only the accounts of this owner' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  @IsPlainText()
  owner?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  offset?: number;

  @ApiPropertyOptional({ description: 'a Chronicle-Position header of a write: wait until the list reflects it' })
  @IsOptional()
  @IsString()
  @Matches(/^\d{1,20}(:\d{1,20})?$/, { message: 'after must be a Chronicle-Position value (digits, or digits:digits)' })
  after?: string;
}
