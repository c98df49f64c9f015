import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsObject, IsOptional, Matches, Max, Min, ValidateNested } from 'class-validator';
import { CIRCUITS, type CircuitName } from '../proving/prover-pool.js';

/** A field element or integer as a decimal string without sign or leading zeros. */
export const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
const decimal = (name: string) => Matches(DECIMAL, { message: `${name} must be a decimal integer string` });

export class VerifyExpectDto {
  @ApiProperty({ description: 'The challenge the relying party issued (decimal field element); the proof must carry exactly this', example: '12648430' })
  @decimal('challenge')
  challenge!: string;

  @ApiPropertyOptional({ description: 'balance: the proven threshold must be at least this (decimal, <= 2^64-1)', example: '500000' })
  @IsOptional() @decimal('threshold')
  threshold?: string;

  @ApiPropertyOptional({ description: 'eligibility: the proven minimum age must be at least this', example: 18 })
  @IsOptional() @IsInt() @Min(0) @Max(255)
  minAge?: number;

  @ApiPropertyOptional({ description: 'eligibility: the proof must be for exactly this scope (decimal field element)' })
  @IsOptional() @decimal('scope')
  scope?: string;

  @ApiPropertyOptional({ description: 'eligibility: every listed jurisdiction must be in the proof\'s denylist', type: [Number] })
  @IsOptional() @IsArray() @ArrayMaxSize(8) @IsInt({ each: true }) @Min(1, { each: true }) @Max(999, { each: true })
  denylist?: number[];

  @ApiPropertyOptional({
    description: 'eligibility: the date (YYYYMMDD) the proof must be made for; by default today or yesterday (UTC)',
    example: 20261122,
  })
  @IsOptional() @IsInt() @Min(10101) @Max(99991231)
  currentDate?: number;
}

export class VerifyRequestDto {
  @ApiProperty({ enum: CIRCUITS })
  @IsIn(CIRCUITS)
  circuit!: CircuitName;

  @ApiProperty({ description: 'Groth16 proof as snarkjs writes it: {pi_a, pi_b, pi_c, protocol, curve}', type: Object })
  @IsObject()
  proof!: Record<string, unknown>;

  @ApiProperty({ description: 'Public signals as decimal strings, in the circuit\'s order', type: [String] })
  @IsArray() @ArrayMaxSize(64)
  publicSignals!: unknown[];

  @ApiProperty({ type: VerifyExpectDto })
  @ValidateNested() @Type(() => VerifyExpectDto) @IsObject()
  expect!: VerifyExpectDto;
}

export class VerifyResultDto {
  @ApiProperty({ example: true }) valid!: true;
  @ApiProperty({ enum: CIRCUITS }) circuit!: CircuitName;
  @ApiProperty({ description: 'Root of the tree the proof is against (decimal)' }) root!: string;
  @ApiProperty() challenge!: string;
  @ApiPropertyOptional({ description: 'balance: the proven lower bound of the balance' }) threshold?: string;
  @ApiPropertyOptional({ description: 'eligibility: consumed for this scope by this verification' }) nullifier?: string;
  @ApiPropertyOptional() currentDate?: string;
  @ApiPropertyOptional() minAge?: string;
  @ApiPropertyOptional({ type: [String] }) denylist?: string[];
  @ApiPropertyOptional() scope?: string;
}

export class VerificationKeyDto {
  @ApiProperty({ example: 'groth16' }) protocol!: string;
  @ApiProperty({ example: 'bn128' }) curve!: string;
  @ApiProperty() nPublic!: number;
}
