import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

const MAX_SIZE = Number.MAX_SAFE_INTEGER;

export class CheckpointDto {
  @ApiProperty({ example: 'privacy-service.local/audit-log' }) origin!: string;
  @ApiProperty({ example: 1024 }) treeSize!: number;
  @ApiProperty({ description: 'RFC 9162 root hash, standard base64' }) rootHash!: string;
  @ApiProperty({ description: 'Signing time, ms since the epoch' }) timestamp!: number;
  @ApiProperty({ description: 'SHA-256 of the signing key SPKI DER, hex' }) keyId!: string;
  @ApiProperty({ description: 'ECDSA P-256 r||s over SHA-256 of the checkpoint body, standard base64' }) signature!: string;
}

export class PublicKeyDto {
  @ApiProperty({ description: 'SubjectPublicKeyInfo PEM of the checkpoint signing key' }) pem!: string;
  @ApiProperty() keyId!: string;
  @ApiProperty({ example: 'ECDSA P-256 SHA-256' }) algorithm!: string;
  @ApiProperty() origin!: string;
}

export class AuditEventDto {
  @ApiProperty() seq!: number;
  @ApiProperty() type!: string;
  @ApiProperty() actor!: string;
  @ApiProperty() subject!: string;
  @ApiProperty({ description: 'ISO 8601 UTC with milliseconds' }) time!: string;
  @ApiProperty({ description: 'Event details (any JSON)', type: Object }) body!: unknown;
  @ApiProperty({ description: 'SHA-256(0x00 || JCS(event)), hex' }) leafHash!: string;
}

export class InclusionQueryDto {
  @ApiPropertyOptional({ description: 'Leaf index (seq) of the event' })
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(MAX_SIZE)
  seq?: number;

  @ApiPropertyOptional({ description: 'Leaf hash of the event, 64 hex characters' })
  @IsOptional() @Matches(/^[0-9a-fA-F]{64}$/, { message: 'leafHash must be 64 hex characters' })
  leafHash?: string;

  @ApiPropertyOptional({ description: 'Tree size to prove against (default: the latest checkpoint)' })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MAX_SIZE)
  treeSize?: number;
}

export class InclusionProofDto {
  @ApiProperty() leafIndex!: number;
  @ApiProperty() treeSize!: number;
  @ApiProperty({ description: 'SHA-256 of the leaf, hex' }) leafHash!: string;
  @ApiProperty({ type: [String], description: 'RFC 9162 inclusion path, standard base64, leaf sibling first' }) hashes!: string[];
  @ApiProperty({ type: CheckpointDto, nullable: true, description: 'The signed checkpoint of treeSize, if one exists' })
  checkpoint!: CheckpointDto | null;
}

export class ConsistencyQueryDto {
  @ApiProperty({ description: 'Older tree size' })
  @Type(() => Number) @IsInt() @Min(1) @Max(MAX_SIZE)
  from!: number;

  @ApiProperty({ description: 'Newer tree size' })
  @Type(() => Number) @IsInt() @Min(1) @Max(MAX_SIZE)
  to!: number;
}

export class ConsistencyProofDto {
  @ApiProperty() size1!: number;
  @ApiProperty() size2!: number;
  @ApiProperty({ type: [String], description: 'RFC 9162 consistency proof, standard base64' }) hashes!: string[];
}

export class AnchorDto {
  @ApiProperty() treeSize!: number;
  @ApiProperty({ enum: ['pending', 'submitted', 'confirmed'] }) status!: string;
  @ApiProperty({ nullable: true, type: Number }) chainId!: number | null;
  @ApiProperty({ nullable: true, type: String }) contractAddress!: string | null;
  @ApiProperty({ nullable: true, type: String }) txHash!: string | null;
  @ApiProperty({ nullable: true, type: Number }) blockNumber!: number | null;
  @ApiProperty() attempts!: number;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
}

export class AnchorContractDto {
  @ApiProperty() chainId!: number;
  @ApiProperty() address!: string;
}
