import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min, registerDecorator, type ValidationOptions } from 'class-validator';
import { FIELD_MODULUS, MAX_UINT64, isYyyymmdd, yyyymmdd } from '../circuit-inputs.js';

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** A canonical field element written in decimal: no sign, no leading zeros, below the BN254 modulus. */
export function isFieldDecimal(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value) && value.length <= 78 && BigInt(value) < FIELD_MODULUS;
}

function IsFieldDecimal(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isFieldDecimal',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be a non-zero canonical field element in decimal (a string, below the BN254 scalar field modulus)`, ...options },
      validator: { validate: (v: unknown) => isFieldDecimal(v) && v !== '0' },
    });
}

function IsUint64Decimal(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isUint64Decimal',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be a decimal string of an integer in 0..2^64-1`, ...options },
      validator: { validate: (v: unknown) => typeof v === 'string' && DECIMAL.test(v) && v.length <= 20 && BigInt(v) <= MAX_UINT64 },
    });
}

/** A YYYYMMDD birth date (integer, or a string of 8 digits) that is a real calendar date, not after today (UTC). */
export function parseBirthDate(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{8}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 10000101 || !isYyyymmdd(n) || n > yyyymmdd(new Date())) return null;
  return n;
}

function IsPastYyyymmdd(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isPastYyyymmdd',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be a real calendar date YYYYMMDD (e.g. 19900131), not in the future`, ...options },
      validator: { validate: (v: unknown) => parseBirthDate(v) !== null },
    });
}

// ------------------------------------------------------------------------------- identities

export class EnrolIdentityDto {
  @ApiProperty({ description: 'Identity commitment Poseidon(identitySecret), decimal field element', example: '1234567890123456789' })
  @IsFieldDecimal()
  commitment!: string;

  @ApiProperty({ description: 'Birth date YYYYMMDD as the bank attests it (integer or 8-digit string)', example: 19900131, oneOf: [{ type: 'integer' }, { type: 'string' }] })
  @IsPastYyyymmdd()
  birthDate!: number | string;

  @ApiProperty({ description: 'ISO 3166-1 numeric country code', minimum: 1, maximum: 999, example: 276 })
  @IsInt()
  @Min(1)
  @Max(999)
  jurisdiction!: number;
}

export class EnrolmentDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() leafIndex!: number;
  @ApiProperty({ description: 'Poseidon(commitment, birthDate, jurisdiction), decimal' }) leaf!: string;
  @ApiProperty({ description: 'Identity tree root after the enrolment, decimal' }) root!: string;
}

export class RevocationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['revoked'] }) status!: 'revoked';
  @ApiProperty() leafIndex!: number;
  @ApiProperty({ description: 'Identity tree root after the revocation, decimal' }) root!: string;
}

export class IdentityPathDto {
  @ApiProperty() leafIndex!: number;
  @ApiProperty({ description: 'The leaf, decimal' }) leaf!: string;
  @ApiProperty({ type: [String], description: '20 sibling hashes, leaf level first, decimal' }) pathElements!: string[];
  @ApiProperty({ type: [Number], description: '20 bits: 1 when the node is the right child' }) pathIndices!: number[];
  @ApiProperty({ description: 'The current identity root the path leads to, decimal' }) root!: string;
}

// ------------------------------------------------------------------------------- accounts

export class RegisterAccountDto {
  @ApiProperty({ description: 'Account commitment Poseidon(accountSecret), decimal field element' })
  @IsFieldDecimal()
  commitment!: string;
}

export class AccountCreatedDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
}

export class SetBalanceDto {
  @ApiProperty({ description: 'Balance in minor units, a decimal string in 0..2^64-1', example: '150000' })
  @IsUint64Decimal()
  balance!: string;
}

export class BalanceSetDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() balance!: string;
}

export class EpochDto {
  @ApiProperty() epoch!: number;
  @ApiProperty({ description: 'Balance tree root of the epoch, decimal' }) root!: string;
  @ApiProperty({ description: 'Number of accounts (leaves) in the epoch' }) size!: number;
  @ApiProperty() createdAt!: string;
}

export class BalancePathQueryDto {
  @ApiPropertyOptional({ description: 'Epoch (default: the latest epoch that holds the account)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  epoch?: number;
}

export class BalancePathDto {
  @ApiProperty() epoch!: number;
  @ApiProperty() leafIndex!: number;
  @ApiProperty({ description: 'The balance snapshotted in this epoch, decimal' }) balance!: string;
  @ApiProperty({ description: "This epoch's salt of the account's leaf, decimal (the owner's only)" }) salt!: string;
  @ApiProperty({ description: 'Poseidon(commitment, balance, salt), decimal' }) leaf!: string;
  @ApiProperty({ type: [String] }) pathElements!: string[];
  @ApiProperty({ type: [Number] }) pathIndices!: number[];
  @ApiProperty({ description: "The epoch's root, decimal" }) root!: string;
}

// ------------------------------------------------------------------------------- roots

export class RootPublicationDto {
  @ApiProperty({ enum: ['pending', 'submitted', 'confirmed'] }) status!: string;
  @ApiProperty({ nullable: true, type: Number }) chainId!: number | null;
  @ApiProperty({ nullable: true, type: String }) contractAddress!: string | null;
  @ApiProperty({ nullable: true, type: String }) txHash!: string | null;
  @ApiProperty({ nullable: true, type: Number }) blockNumber!: number | null;
}

export class RootEntryDto {
  @ApiProperty({ description: 'Identity tree: change number; balance tree: epoch' }) version!: number;
  @ApiProperty({ description: 'Decimal' }) root!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) supersededAt!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'supersededAt + window; null while current' }) validUntil!: string | null;
  @ApiProperty() current!: boolean;
  @ApiProperty() valid!: boolean;
  @ApiProperty({ type: RootPublicationDto, nullable: true }) publication!: RootPublicationDto | null;
}

export class RootHistoryDto {
  @ApiProperty({ enum: ['identity', 'balance'] }) tree!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Current root, decimal; null before the first one' }) current!: string | null;
  @ApiProperty({ description: 'How long a superseded root stays valid' }) windowSeconds!: number;
  @ApiProperty({ type: [RootEntryDto], description: 'Newest first (at most 50)' }) history!: RootEntryDto[];
}
