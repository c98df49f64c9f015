import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { ROLES, type Role } from './roles.js';

export class CreatePrincipalDto {
  @ApiProperty({ example: 'acme-wallet', description: 'Unique name: lowercase letters, digits, dots, dashes' })
  @IsString()
  @MinLength(2)
  @MaxLength(64)
  @Matches(/^[a-z0-9][a-z0-9.-]*$/, { message: 'name must be lowercase letters, digits, dots or dashes' })
  name!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES as unknown as string[], { message: `role must be one of ${ROLES.join(', ')}` })
  role!: Role;
}

export class PrincipalKeyDto {
  @ApiProperty() prefix!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
}

export class PrincipalDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) disabledAt!: string | null;
  @ApiProperty({ type: [PrincipalKeyDto] }) keys!: PrincipalKeyDto[];
}

export class IssuedKeyDto {
  @ApiProperty({ description: 'The API key. Shown once; only its hash is stored.' }) key!: string;
  @ApiProperty() prefix!: string;
  @ApiProperty() principal!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
}

export class RevokedKeyDto {
  @ApiProperty() prefix!: string;
  @ApiProperty() revokedAt!: string;
}
