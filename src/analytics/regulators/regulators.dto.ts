import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { FEATURE_SLOTS, type FeatureSlot } from '../features.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const NAME_MESSAGE = 'must be 1-63 lower-case letters, digits, dots, underscores or dashes';
const COMPRESSED_KEY = /^0[23][0-9a-f]{64}$/;
const SIGNATURE = /^[0-9a-f]{128}$/;
const SIGNATURE_DESCRIPTION = 'ECDSA signature r || s (64 bytes, lower-case hex) over the submission digest (see docs/analytics-regulators.md)';

// ------------------------------------------------------------------------------- regulators

export class RegisterRegulatorDto {
  @ApiProperty({ description: 'Regulator name', example: 'fiu-north' })
  @Matches(NAME, { message: `name ${NAME_MESSAGE}` })
  name!: string;

  @ApiProperty({ description: "Name of the existing principal with role 'regulator' who acts as this regulator", example: 'fiu-north' })
  @IsString()
  @Matches(/^.{1,200}$/)
  principal!: string;

  @ApiProperty({ enum: ['p256', 'secp256k1'], description: 'Curve of the signing key' })
  @IsIn(['p256', 'secp256k1'])
  signingCurve!: 'p256' | 'secp256k1';

  @ApiProperty({ description: 'Compressed ECDSA public key (33 bytes, lower-case hex) that verifies the regulator\'s submissions' })
  @Matches(COMPRESSED_KEY, { message: 'signingKey must be a 33-byte compressed public key in lower-case hex' })
  signingKey!: string;

  @ApiProperty({ description: 'Compressed secp256k1 public key (33 bytes, lower-case hex) that dealer shares are encrypted to' })
  @Matches(COMPRESSED_KEY, { message: 'encryptionKey must be a 33-byte compressed secp256k1 public key in lower-case hex' })
  encryptionKey!: string;
}

export class RegulatorDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() principal!: string;
  @ApiProperty({ enum: ['p256', 'secp256k1'] }) signingCurve!: string;
  @ApiProperty() signingKey!: string;
  @ApiProperty() encryptionKey!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

// --------------------------------------------------------------------------------- key sets

export class CreateKeySetDto {
  @ApiProperty({ description: 'Partial decryptions needed to decrypt (t)', minimum: 1, example: 3 })
  @IsInt()
  @Min(1)
  @Max(100)
  threshold!: number;

  @ApiProperty({ description: 'Registered regulators taking part (n); indices 1..n are assigned in this order', type: [String], example: ['a', 'b', 'c', 'd', 'e'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ArrayUnique()
  @Matches(NAME, { each: true, message: `each regulator ${NAME_MESSAGE}` })
  regulators!: string[];
}

export class KeySetListQueryDto {
  @ApiPropertyOptional({ enum: ['dealing', 'verifying', 'active', 'failed', 'retired'] })
  @IsOptional()
  @IsIn(['dealing', 'verifying', 'active', 'failed', 'retired'])
  status?: 'dealing' | 'verifying' | 'active' | 'failed' | 'retired';
}

export class ParticipantDto {
  @ApiProperty() regulator!: string;
  @ApiProperty({ minimum: 1 }) index!: number;
}

export class SlotProgressDto {
  @ApiProperty({ enum: FEATURE_SLOTS }) slot!: string;
  @ApiProperty({ description: 'dealer commitments received' }) commitments!: number;
  @ApiProperty({ description: 'upheld complaints: the accused dealer is disqualified from this slot key', type: 'array', items: { type: 'object' } })
  complaints!: { accuser: number; dealer: number; reason: string }[];
  @ApiPropertyOptional({ description: 'EncodedThresholdPublicKey (group key, qualified dealers, verification shares), once active', type: 'object', additionalProperties: true, nullable: true })
  publicKey!: Record<string, unknown> | null;
}

export class KeySetDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() threshold!: number;
  @ApiProperty({ type: [ParticipantDto] }) participants!: ParticipantDto[];
  @ApiProperty({ enum: ['dealing', 'verifying', 'active', 'failed', 'retired'] }) status!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ description: 'regulators whose deal was received', type: [String] }) dealt!: string[];
  @ApiProperty({ description: 'regulators whose verdicts were received', type: [String] }) verified!: string[];
  @ApiProperty({ type: [SlotProgressDto] }) slots!: SlotProgressDto[];
  @ApiProperty() createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) activatedAt!: string | null;
}

// ------------------------------------------------------------------------------------ deals

export class ShareEnvelopeDto {
  @ApiProperty({ description: 'ephemeral secp256k1 key E (compressed, hex)' })
  @Matches(COMPRESSED_KEY, { message: 'ephemeralKey must be a compressed secp256k1 point in lower-case hex' })
  ephemeralKey!: string;

  @ApiProperty({ description: 'AES-256-GCM IV (12 bytes, hex)' })
  @Matches(/^[0-9a-f]{24}$/, { message: 'iv must be 12 bytes of lower-case hex' })
  iv!: string;

  @ApiProperty({ description: 'AES-256-GCM ciphertext of the 32-byte share with its 16-byte tag (hex)' })
  @Matches(/^[0-9a-f]{96}$/, { message: 'ciphertext must be 48 bytes of lower-case hex' })
  ciphertext!: string;
}

export class EncryptedShareDto {
  @ApiProperty({ description: 'recipient index', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(100)
  recipient!: number;

  @ApiProperty({ type: ShareEnvelopeDto })
  @ValidateNested()
  @Type(() => ShareEnvelopeDto)
  @IsObject()
  envelope!: ShareEnvelopeDto;
}

export class SlotDealDto {
  @ApiProperty({ enum: FEATURE_SLOTS })
  @IsIn(FEATURE_SLOTS as unknown as string[])
  slot!: FeatureSlot;

  @ApiProperty({ description: 'EncodedDealerCommitment (ceremony analytics-key:<keySetId>:<slot>, dealer index, Feldman commitments, proof of possession)', type: 'object', additionalProperties: true })
  @IsObject()
  commitment!: Record<string, unknown>;

  @ApiProperty({ description: 'one encrypted dealer share per participant (the dealer itself included)', type: [EncryptedShareDto] })
  @IsArray()
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => EncryptedShareDto)
  shares!: EncryptedShareDto[];
}

export class SubmitDealDto {
  @ApiProperty({ description: 'the dealing regulator (must be the caller)' })
  @Matches(NAME, { message: `regulator ${NAME_MESSAGE}` })
  regulator!: string;

  @ApiProperty({ description: 'one entry per feature slot', type: [SlotDealDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(FEATURE_SLOTS.length)
  @ValidateNested({ each: true })
  @Type(() => SlotDealDto)
  slots!: SlotDealDto[];

  @ApiProperty({ description: `${SIGNATURE_DESCRIPTION}: signedDigest('analytics-dkg-deal', { keySetId, regulator, slots })` })
  @Matches(SIGNATURE, { message: 'signature must be 64 bytes (r || s) of lower-case hex' })
  signature!: string;
}

export class DealReceiptDto {
  @ApiProperty() keySetId!: string;
  @ApiProperty() regulator!: string;
  @ApiProperty() dealer!: number;
  @ApiProperty({ enum: ['dealing', 'verifying'] }) status!: string;
}

export class DealsForRegulatorDto {
  @ApiProperty() keySetId!: string;
  @ApiProperty() threshold!: number;
  @ApiProperty({ type: [ParticipantDto] }) participants!: ParticipantDto[];
  @ApiProperty() recipient!: number;
  @ApiProperty({ description: 'every dealer commitment: { slot, dealer, commitment }', type: 'array', items: { type: 'object' } })
  commitments!: { slot: string; dealer: number; commitment: unknown }[];
  @ApiProperty({ description: 'the encrypted shares addressed to this regulator: { slot, dealer, envelope }', type: 'array', items: { type: 'object' } })
  shares!: { slot: string; dealer: number; envelope: unknown }[];
}

// --------------------------------------------------------------------------------- verdicts

export class ComplaintDto {
  @ApiProperty({ description: 'index of the accused dealer', minimum: 1 })
  @IsInt()
  @Min(1)
  @Max(100)
  dealer!: number;

  @ApiProperty({ description: 'why the share failed (verifyDealerShare)' })
  @IsString()
  @MaxLength(500)
  reason!: string;

  @ApiProperty({ description: 'evidence: the decrypted share (decimal) the dealer sent' })
  @Matches(/^(0|[1-9][0-9]{0,80})$/, { message: 'share must be a decimal integer' })
  share!: string;

  @ApiProperty({ description: "evidence: the envelope key K (32 bytes hex) that opens the dealer's envelope to this regulator (and nothing else)" })
  @Matches(/^[0-9a-f]{64}$/, { message: 'envelopeKey must be 32 bytes of lower-case hex' })
  envelopeKey!: string;
}

export class SlotVerdictDto {
  @ApiProperty({ enum: FEATURE_SLOTS })
  @IsIn(FEATURE_SLOTS as unknown as string[])
  slot!: FeatureSlot;

  @ApiProperty({ description: 'empty: every share received for this slot verified', type: [ComplaintDto] })
  @IsArray()
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => ComplaintDto)
  complaints!: ComplaintDto[];
}

export class SubmitVerdictsDto {
  @ApiProperty({ description: 'the verifying regulator (must be the caller)' })
  @Matches(NAME, { message: `regulator ${NAME_MESSAGE}` })
  regulator!: string;

  @ApiProperty({ description: 'one entry per feature slot', type: [SlotVerdictDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(FEATURE_SLOTS.length)
  @ValidateNested({ each: true })
  @Type(() => SlotVerdictDto)
  verdicts!: SlotVerdictDto[];

  @ApiProperty({ description: `${SIGNATURE_DESCRIPTION}: signedDigest('analytics-dkg-verdicts', { keySetId, regulator, verdicts })` })
  @Matches(SIGNATURE, { message: 'signature must be 64 bytes (r || s) of lower-case hex' })
  signature!: string;
}

export class VerdictReceiptDto {
  @ApiProperty() keySetId!: string;
  @ApiProperty() regulator!: string;
  @ApiProperty({ description: 'complaints upheld from this submission' }) upheld!: number;
  @ApiProperty({ enum: ['verifying', 'active', 'failed'] }) status!: string;
}
