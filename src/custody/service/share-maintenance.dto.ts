import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const MAINTENANCE_STATUSES = ['requested', 'approved', 'running', 'completed', 'rejected', 'expired', 'aborted'] as const;

export class RequestMaintenanceDto {
  @ApiProperty({ enum: ['refresh', 'reshare'], description: "'refresh': same nodes and threshold, new shares; 'reshare': a new node set and/or threshold" })
  @IsIn(['refresh', 'reshare'])
  kind!: 'refresh' | 'reshare';

  @ApiPropertyOptional({ description: 'reshare only: the node ids of the new set (configured signer nodes)', type: [String], example: ['node-b', 'node-c', 'node-d'] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(2)
  @ArrayMaxSize(64)
  @ArrayUnique()
  @Matches(NODE_ID, { each: true, message: 'nodes must be signer node ids' })
  nodes?: string[];

  @ApiPropertyOptional({ description: 'reshare only: signatures needed in the new set (2 to the number of nodes)', minimum: 2, example: 2 })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(64)
  threshold?: number;

  @ApiPropertyOptional({ description: 'Seconds the ceremony may wait for approvals (default 3600)', minimum: 60, maximum: 604800 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(604800)
  ttlSeconds?: number;
}

export class MaintenanceApproveDto {
  @ApiProperty({ description: 'The approving operator (must be the calling principal)', example: 'alice' })
  @Matches(NAME)
  operator!: string;

  @ApiProperty({ description: "ECDSA signature r || s over the ceremony's digest, 128 lower-case hex characters" })
  @Matches(/^[0-9a-f]{128}$/, { message: 'signature must be r || s as 128 lower-case hex characters' })
  signature!: string;
}

export class MaintenanceRejectDto {
  @ApiProperty({ example: 'alice' })
  @Matches(NAME)
  operator!: string;

  @ApiProperty({ example: 'node-d is not commissioned yet' })
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason!: string;
}

export class MaintenanceListQueryDto {
  @ApiPropertyOptional({ enum: MAINTENANCE_STATUSES })
  @IsOptional()
  @IsIn([...MAINTENANCE_STATUSES])
  status?: string;
}

export class MaintenanceFailureDto {
  @ApiProperty() node!: string;
  @ApiProperty({ description: 'unavailable | refused | bad-signature | bad-share (a dealer whose dealing did not verify) | inconsistent' }) kind!: string;
}

export class MaintenanceDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) walletId!: string;
  @ApiProperty({ description: 'Wallet contract address' }) wallet!: string;
  @ApiProperty({ enum: ['refresh', 'reshare'] }) kind!: string;
  @ApiProperty({ enum: MAINTENANCE_STATUSES }) status!: string;
  @ApiPropertyOptional({ enum: ['staging', 'committing'], nullable: true }) phase!: string | null;
  @ApiPropertyOptional({ nullable: true }) reason!: string | null;
  @ApiProperty() groupKey!: string;
  @ApiProperty() policyVersion!: number;
  @ApiProperty() quorum!: number;
  @ApiProperty({ type: [String] }) fromNodes!: string[];
  @ApiProperty() fromThreshold!: number;
  @ApiProperty() fromVersion!: number;
  @ApiProperty({ type: [String] }) toNodes!: string[];
  @ApiProperty() toThreshold!: number;
  @ApiProperty() toVersion!: number;
  @ApiProperty({ description: "0x SHA-256 of the ceremony's canonical JSON: what operators sign" }) digest!: string;
  @ApiProperty({ type: [String], description: 'Operators who approved' }) approvals!: string[];
  @ApiPropertyOptional({ type: [String], nullable: true, description: 'Old nodes that dealt' }) dealers!: string[] | null;
  @ApiPropertyOptional({ type: [MaintenanceFailureDto], nullable: true }) failures!: MaintenanceFailureDto[] | null;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiPropertyOptional({ format: 'date-time', nullable: true }) completedAt!: string | null;
}
