import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsISO8601, IsNumber, IsObject, IsOptional, IsString, IsUUID, Length, Matches, Min, ValidateNested } from 'class-validator';
import { FEATURE_SLOTS, type FeatureSlot } from '../features.js';
import { GROUP_BY, TASK_KINDS, type GroupBy, type TaskKind } from './statistics.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const SIGNATURE = /^[0-9a-f]{128}$/;

export class TaskWindowDto {
  @ApiProperty({ description: 'Start of the window (inclusive), ISO 8601', example: '2026-11-01T00:00:00.000Z' })
  @IsISO8601({ strict: true }, { message: 'window.from must be an ISO 8601 timestamp' })
  from!: string;

  @ApiProperty({ description: 'End of the window (exclusive), ISO 8601, not in the future', example: '2026-11-08T00:00:00.000Z' })
  @IsISO8601({ strict: true }, { message: 'window.to must be an ISO 8601 timestamp' })
  to!: string;
}

export class DefineTaskDto {
  @ApiProperty({ enum: TASK_KINDS, description: 'sum of one slot, count of payments, bucket histogram, linear risk score, or the structuring rule' })
  @IsIn(TASK_KINDS)
  kind!: TaskKind;

  @ApiProperty({ type: TaskWindowDto, description: 'Payments with from <= occurredAt < to (a closed window: to must not lie in the future)' })
  @ValidateNested()
  @Type(() => TaskWindowDto)
  window!: TaskWindowDto;

  @ApiPropertyOptional({ enum: GROUP_BY, description: "'none' (one group) or 'payer' (one group per pseudonymous payer account); structuring is always per payer" })
  @IsOptional()
  @IsIn(GROUP_BY)
  groupBy?: GroupBy;

  @ApiPropertyOptional({ enum: FEATURE_SLOTS, description: 'sum: the slot to sum' })
  @IsOptional()
  @IsIn(FEATURE_SLOTS)
  slot?: FeatureSlot;

  @ApiPropertyOptional({ description: 'linear-score: public integer weight per slot', example: { amount: 1, crossBorder: 5000 } })
  @IsOptional()
  @IsObject()
  weights?: Record<string, number>;

  @ApiPropertyOptional({ description: 'structuring: flag payers with MORE than this many payments in the bucket just under the reporting threshold', example: 3 })
  @IsOptional()
  @IsInt()
  @Min(0)
  threshold?: number;

  @ApiPropertyOptional({ description: "Differential privacy: epsilon spent from each approver's budget; released numbers get discrete Laplace noise of scale sensitivity/epsilon", example: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  epsilon?: number;
}

export class ApproveTaskDto {
  @ApiProperty({ description: 'The approving regulator (must be the caller)', example: 'regulator-a' })
  @Matches(NAME)
  regulator!: string;

  @ApiProperty({ description: "ECDSA r || s (64 bytes, lower-case hex) with the regulator's signing key over signedDigest('analytics-task', {taskId, definition}), i.e. the task's digest" })
  @Matches(SIGNATURE, { message: 'signature must be 64 bytes r || s in lower-case hex' })
  signature!: string;
}

export class PartialEntryDto {
  @ApiProperty({ format: 'uuid', description: 'The aggregate this partial decrypts' })
  @IsUUID()
  aggregateId!: string;

  @ApiProperty({ description: 'Partial decryption {index, share: [x, y], proof: {challenge, response}} with context analytics-task:<taskId>:<aggregateId>', type: Object })
  @IsObject()
  partial!: Record<string, unknown>;
}

export class SubmitPartialsDto {
  @ApiProperty({ description: 'The submitting regulator (must be the caller)', example: 'regulator-a' })
  @Matches(NAME)
  regulator!: string;

  @ApiProperty({ type: [PartialEntryDto], description: 'One partial decryption for every aggregate of the task' })
  @IsArray()
  @ArrayMaxSize(100_000)
  @ValidateNested({ each: true })
  @Type(() => PartialEntryDto)
  partials!: PartialEntryDto[];

  @ApiProperty({ description: "ECDSA r || s over signedDigest('analytics-partials', {taskId, regulator, partials}) (partials exactly as sent)" })
  @Matches(SIGNATURE, { message: 'signature must be 64 bytes r || s in lower-case hex' })
  signature!: string;
}

export class RejectTaskDto {
  @ApiProperty({ description: 'The rejecting regulator (must be the caller)' })
  @Matches(NAME)
  regulator!: string;

  @ApiProperty({ description: 'Why', example: 'window overlaps an ongoing investigation' })
  @IsString()
  @Length(1, 500)
  reason!: string;
}

export class TaskApprovalViewDto {
  @ApiProperty() regulator!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class AggregateViewDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: FEATURE_SLOTS }) slot!: string;
  @ApiProperty({ nullable: true, type: String, description: 'The payer account, or null for an ungrouped task' }) group!: string | null;
  @ApiProperty({ description: 'Payments summed' }) payments!: number;
  @ApiProperty({ type: Object, description: 'The summed ciphertext {c1, c2}' }) ciphertext!: Record<string, unknown>;
}

export class TaskDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: Object, description: "The canonical definition; approvers sign signedDigest('analytics-task', {taskId, definition})" }) definition!: Record<string, unknown>;
  @ApiProperty({ description: "signedDigest('analytics-task', {taskId, definition}), hex" }) digest!: string;
  @ApiProperty({ enum: ['defined', 'approved', 'aggregating', 'decrypting', 'released', 'rejected', 'expired'] }) status!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty() definedBy!: string;
  @ApiProperty({ description: 'Approvals (and partial decryption sets) required: the key set threshold' }) threshold!: number;
  @ApiProperty({ type: [TaskApprovalViewDto] }) approvals!: TaskApprovalViewDto[];
  @ApiProperty({ type: [String], description: 'Regulators whose partial decryptions were accepted' }) partialsFrom!: string[];
  @ApiProperty({ type: [AggregateViewDto], description: 'While decrypting: the aggregates to decrypt' }) aggregates!: AggregateViewDto[];
  @ApiProperty({ nullable: true, type: Number, description: 'Groups below the minimum cohort, not aggregated' }) suppressedGroups!: number | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) releasedAt!: string | null;
}

export class TaskResultDto {
  @ApiProperty({ format: 'uuid' }) taskId!: string;
  @ApiProperty({ format: 'date-time' }) releasedAt!: string;
  @ApiProperty({ type: Object, description: 'The released statistic (numbers as decimal strings)' }) result!: Record<string, unknown>;
}
