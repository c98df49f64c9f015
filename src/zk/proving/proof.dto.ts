import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsInt, IsOptional, IsUUID, Matches, Max, Min } from 'class-validator';
import { CIRCUITS, type CircuitName } from './prover-pool.js';

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
const decimal = (name: string) => Matches(DECIMAL, { message: `${name} must be a decimal integer string` });

export class BalanceProofRequestDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  accountId!: string;

  @ApiProperty({ description: 'The account secret (decimal field element) whose Poseidon hash is the account commitment. Used for this proof only: never stored or logged.' })
  @decimal('accountSecret')
  accountSecret!: string;

  @ApiProperty({ description: 'Proven lower bound of the balance (decimal, 0..2^64-1)', example: '500000' })
  @decimal('threshold')
  threshold!: string;

  @ApiProperty({ description: 'The relying party\'s challenge (decimal field element)', example: '12648430' })
  @decimal('challenge')
  challenge!: string;

  @ApiPropertyOptional({ description: 'Balance epoch to prove against (default: the latest)', example: 1 })
  @IsOptional() @IsInt() @Min(1)
  epoch?: number;
}

export class EligibilityProofRequestDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  identityId!: string;

  @ApiProperty({ description: 'The identity secret (decimal field element) whose Poseidon hash is the identity commitment. Used for this proof only: never stored or logged.' })
  @decimal('identitySecret')
  identitySecret!: string;

  @ApiPropertyOptional({ description: 'Date the age is computed at, YYYYMMDD (default: today, UTC)', example: 20261122 })
  @IsOptional() @IsInt() @Min(10101) @Max(99991231)
  currentDate?: number;

  @ApiProperty({ example: 18 })
  @IsInt() @Min(0) @Max(255)
  minAge!: number;

  @ApiProperty({ description: 'Jurisdiction codes (ISO 3166-1 numeric) that must not hold the identity, at most 8', type: [Number], example: [408, 364] })
  @IsArray() @ArrayMaxSize(8) @IsInt({ each: true }) @Min(1, { each: true }) @Max(999, { each: true })
  denylist!: number[];

  @ApiProperty({ description: 'The relying party\'s scope (decimal field element): one nullifier per identity and scope' })
  @decimal('scope')
  scope!: string;

  @ApiProperty({ description: 'The relying party\'s challenge (decimal field element)' })
  @decimal('challenge')
  challenge!: string;
}

export class ProveQueryDto {
  @ApiPropertyOptional({ description: 'Queue the proof and answer 202 {jobId} at once' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  async?: boolean;
}

export class Groth16ProofDto {
  @ApiProperty({ type: [String] }) pi_a!: string[];
  @ApiProperty({ type: 'array', items: { type: 'array', items: { type: 'string' } } }) pi_b!: string[][];
  @ApiProperty({ type: [String] }) pi_c!: string[];
  @ApiProperty({ example: 'groth16' }) protocol!: string;
  @ApiProperty({ example: 'bn128' }) curve!: string;
}

export class ProofResponseDto {
  @ApiProperty({ enum: CIRCUITS }) circuit!: CircuitName;
  @ApiProperty({ type: Groth16ProofDto }) proof!: Groth16ProofDto;
  @ApiProperty({ type: [String], description: 'Public signals in the circuit\'s order (decimal strings)' }) publicSignals!: string[];
  @ApiProperty({ example: '/zk/circuits/balance/verification-key' }) verificationKeyUrl!: string;
}

export class ProofJobAcceptedDto {
  @ApiProperty({ format: 'uuid' }) jobId!: string;
  @ApiProperty({ example: 'queued' }) status!: string;
}

export class ProofJobDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: CIRCUITS }) circuit!: CircuitName;
  @ApiProperty({ enum: ['queued', 'running', 'done', 'failed'] }) status!: string;
  @ApiPropertyOptional({ type: Groth16ProofDto }) proof?: Groth16ProofDto;
  @ApiPropertyOptional({ type: [String] }) publicSignals?: string[];
  @ApiPropertyOptional() verificationKeyUrl?: string;
  @ApiPropertyOptional({ description: 'Why the job failed (never inputs)' }) error?: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}
