import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { IsPlainText } from '../../http/is-plain-text.decorator.js';

/** Body of `POST /accounts`. */
export class OpenAccountDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Ada Lovelace' })
  @IsString()
  @Length(1, 100)
  @IsPlainText()
  owner!: string;
}
