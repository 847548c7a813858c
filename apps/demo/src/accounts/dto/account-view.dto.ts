import { ApiProperty } from '@nestjs/swagger';

/** An account as the API returns it. */
export class AccountViewDto {
  @ApiProperty() id!: string;
  @ApiProperty() owner!: string;
  @ApiProperty({ description: 'integer cents' }) balance!: number;
  @ApiProperty({ description: 'the stream version; also the ETag' }) version!: number;
  @ApiProperty() closed!: boolean;
}
