import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

/** Body of `POST /accounts`. */
export class OpenAccountDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Ada Lovelace' })
  @IsString()
  @Length(1, 100)
  owner!: string;
}
