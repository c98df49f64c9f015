import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsUUID,
  IsString,
  Matches,
  Max,
  Min,
} from 'class-validator';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const WEI = /^(0|[1-9][0-9]{0,77})$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

// -------------------------------------------------------------------------------- operators

export class RegisterOperatorDto {
  @ApiProperty({ description: 'Operator name (lower-case letters, digits, . _ -)', example: 'alice' })
  @Matches(NAME, { message: 'name must be 1-63 lower-case letters, digits, dots, underscores or dashes' })
  name!: string;

  @ApiProperty({ description: "Name of the existing principal with role 'operator' who acts as this operator", example: 'alice' })
  @IsString()
  @Matches(/^.{1,200}$/)
  principal!: string;

  @ApiProperty({ enum: ['secp256k1', 'p256'], description: 'Curve of the approval key' })
  @IsIn(['secp256k1', 'p256'])
  curve!: 'secp256k1' | 'p256';

  @ApiProperty({ description: 'Compressed public key (33 bytes), lower-case hex without 0x', example: '02' + 'ab'.repeat(32) })
  @Matches(/^0[23][0-9a-f]{64}$/, { message: 'publicKey must be a 33-byte compressed public key in lower-case hex' })
  publicKey!: string;
}

export class OperatorDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() principal!: string;
  @ApiProperty({ enum: ['secp256k1', 'p256'] }) curve!: string;
  @ApiProperty() publicKey!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

// ----------------------------------------------------------------------------------- policy

export class SetPolicyDto {
  @ApiProperty({ description: 'Approvals needed (m of the named operators)', minimum: 1, example: 2 })
  @IsInt()
  @Min(1)
  @Max(100)
  quorum!: number;

  @ApiProperty({ description: 'Names of the operators who may approve (k)', type: [String], example: ['alice', 'bob', 'carol'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ArrayUnique()
  @Matches(NAME, { each: true })
  operators!: string[];

  @ApiProperty({ description: 'Largest value of one transfer, wei (decimal string)', example: '1000000000000000000' })
  @Matches(WEI, { message: 'perTransactionLimit must be a decimal wei amount' })
  perTransactionLimit!: string;

  @ApiProperty({ description: 'Largest total value requested in any 24 h, wei (decimal string)', example: '5000000000000000000' })
  @Matches(WEI, { message: 'dailyLimit must be a decimal wei amount' })
  dailyLimit!: string;

  @ApiProperty({ description: 'Destinations transfers may go to', type: [String] })
  @IsArray()
  @ArrayMaxSize(1000)
  @Matches(ADDRESS, { each: true, message: 'allowlist entries must be 0x-prefixed 20-byte addresses' })
  allowlist!: string[];

  @ApiPropertyOptional({ description: 'Transfers above this value (wei) wait delaySeconds after the request before signing' })
  @IsOptional()
  @Matches(WEI)
  delayAbove?: string;

  @ApiPropertyOptional({ description: 'The delay in seconds', minimum: 0, default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(30 * 24 * 3600)
  delaySeconds?: number;
}

export class PolicyDto {
  @ApiProperty({ format: 'uuid' }) walletId!: string;
  @ApiProperty() version!: number;
  @ApiProperty() quorum!: number;
  @ApiProperty({ type: [String] }) operators!: string[];
  @ApiProperty() perTransactionLimit!: string;
  @ApiProperty() dailyLimit!: string;
  @ApiProperty({ type: [String] }) allowlist!: string[];
  @ApiProperty({ nullable: true, type: String }) delayAbove!: string | null;
  @ApiProperty() delaySeconds!: number;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The approved proposal this version came from (null: set by an admin as the first version)' })
  proposalId!: string | null;
}

export class ProposePolicyDto extends SetPolicyDto {
  @ApiPropertyOptional({ description: 'Seconds until the proposal expires unapproved', minimum: 60, maximum: 2592000, default: 86400 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(30 * 24 * 3600)
  ttlSeconds?: number;
}

export class PolicyTermsDto {
  @ApiProperty() quorum!: number;
  @ApiProperty({ type: [String] }) operators!: string[];
  @ApiProperty() perTransactionLimit!: string;
  @ApiProperty() dailyLimit!: string;
  @ApiProperty({ type: [String] }) allowlist!: string[];
  @ApiProperty({ nullable: true, type: String }) delayAbove!: string | null;
  @ApiProperty() delaySeconds!: number;
}

export class PolicyProposalDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) walletId!: string;
  @ApiProperty({ description: 'CustodyWallet contract address' }) wallet!: string;
  @ApiProperty({ description: 'The policy version this proposal replaces; it applies only while that version is current' }) baseVersion!: number;
  @ApiProperty({ type: PolicyTermsDto }) policy!: PolicyTermsDto;
  @ApiProperty({ description: 'SHA-256 of the canonical proposal JSON; what operators sign' }) digest!: string;
  @ApiProperty({ enum: ['requested', 'applied', 'rejected', 'expired', 'superseded'] }) status!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'The policy version it became' }) appliedVersion!: number | null;
  @ApiProperty({ description: 'Approvals needed: the quorum of the base version' }) quorum!: number;
  @ApiProperty({ type: [String], description: 'Operators who may approve: those of the base version' }) approvers!: string[];
  @ApiProperty({ type: () => [ApprovalViewDto] }) approvals!: ApprovalViewDto[];
  @ApiProperty() requestedBy!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class PolicyProposalListQueryDto {
  @ApiPropertyOptional({ enum: ['requested', 'applied', 'rejected', 'expired', 'superseded'] })
  @IsOptional()
  @IsIn(['requested', 'applied', 'rejected', 'expired', 'superseded'])
  status?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  walletId?: string;
}

// ------------------------------------------------------------------------------- ceremonies

export class RequestTransferDto {
  @ApiProperty({ description: 'Destination address', example: '0x' + '11'.repeat(20) })
  @Matches(ADDRESS, { message: 'to must be a 0x-prefixed 20-byte address' })
  to!: string;

  @ApiProperty({ description: 'Value in wei (decimal string)', example: '1000' })
  @Matches(WEI, { message: 'value must be a decimal wei amount' })
  value!: string;

  @ApiPropertyOptional({ description: 'Call data, 0x-hex', default: '0x' })
  @IsOptional()
  @Matches(/^0x([0-9a-fA-F]{2}){0,65536}$/, { message: 'data must be 0x-prefixed hex bytes' })
  data?: string;

  @ApiPropertyOptional({ description: 'Seconds until the ceremony expires', minimum: 60, maximum: 604800, default: 3600 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(7 * 24 * 3600)
  ttlSeconds?: number;
}

export class ApproveDto {
  @ApiProperty({ description: 'Operator name (must be the calling principal\'s operator)', example: 'alice' })
  @Matches(NAME)
  operator!: string;

  @ApiProperty({ description: "Compact ECDSA signature r||s (64 bytes, lower-case hex) over the ceremony's digest" })
  @Matches(/^[0-9a-f]{128}$/, { message: 'signature must be a 64-byte compact ECDSA signature in lower-case hex' })
  signature!: string;
}

export class CeremonyListQueryDto {
  @ApiPropertyOptional({ description: "A status, or 'pending' (requested or approved, not yet signed)", example: 'pending' })
  @IsOptional()
  @IsIn(['pending', 'requested', 'approved', 'signing', 'signed', 'submitted', 'confirmed', 'rejected', 'expired', 'aborted'])
  status?: string;
}

export class ApprovalViewDto {
  @ApiProperty() operator!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class CeremonyDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) walletId!: string;
  @ApiProperty() wallet!: string;
  @ApiProperty() policyVersion!: number;
  @ApiProperty() to!: string;
  @ApiProperty() value!: string;
  @ApiProperty() data!: string;
  @ApiProperty() dataHash!: string;
  @ApiProperty() nonce!: string;
  @ApiProperty({ description: 'SHA-256 of the canonical request JSON; what operators sign' }) digest!: string;
  @ApiProperty() status!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty() quorum!: number;
  @ApiProperty({ type: [ApprovalViewDto] }) approvals!: ApprovalViewDto[];
  @ApiProperty({ format: 'date-time' }) notBefore!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

// ---------------------------------------------------------------------------------- wallets

export class CreateWalletDto {
  @ApiProperty({ description: 'Signatures need this many signer nodes (t of n)', minimum: 2, example: 2 })
  @IsInt()
  @Min(2)
  @Max(100)
  threshold!: number;

  @ApiPropertyOptional({ description: 'Ids of the signer nodes to hold shares (default: every configured node)', type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(2)
  @ArrayMaxSize(100)
  @ArrayUnique()
  @IsString({ each: true })
  nodes?: string[];
}

export class WalletDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ description: 'CustodyWallet contract address' }) address!: string;
  @ApiProperty({ description: 'FROST group public key, compressed secp256k1, hex' }) groupKey!: string;
  @ApiProperty() threshold!: number;
  @ApiProperty({ type: [String] }) nodes!: string[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class RejectDto {
  @ApiProperty({ description: "Operator name (must be the calling principal's operator)", example: 'alice' })
  @Matches(NAME)
  operator!: string;

  @ApiProperty({ description: 'Why the transfer must not happen', example: 'destination under review' })
  @IsString()
  @Matches(/^[^\u0000-\u001f]{1,500}$/, { message: 'reason must be 1-500 printable characters' })
  reason!: string;
}

export class AbortCeremonyDto {
  @ApiPropertyOptional({ description: "Operator name (the calling principal's operator, one of the ceremony's policy); omitted when an admin aborts", example: 'alice' })
  @IsOptional()
  @Matches(NAME)
  operator?: string;

  @ApiProperty({ description: 'Why the ceremony is stopped', example: 'signer node under investigation' })
  @IsString()
  @Matches(/^[^\u0000-\u001f]{1,500}$/, { message: 'reason must be 1-500 printable characters' })
  reason!: string;
}

export class NodeQuarantineDto {
  @ApiProperty({ description: 'Signer node id' }) node!: string;
  @ApiProperty({ enum: ['bad-share', 'bad-signature', 'inconsistent'] }) kind!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The ceremony during which it misbehaved' }) ceremonyId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}
