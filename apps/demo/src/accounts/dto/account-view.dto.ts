import { ApiProperty } from '@nestjs/swagger';

/** An account as the API returns it. */
export class AccountViewDto {
  @ApiProperty() id!: string;
  @ApiProperty({ type: String, nullable: true, description: 'personal data: null once the owner is forgotten' }) owner!: string | null;
  @ApiProperty({ description: 'integer cents' }) balance!: number;
  @ApiProperty({ description: 'the stream version; also the ETag' }) version!: number;
  @ApiProperty() closed!: boolean;
}
