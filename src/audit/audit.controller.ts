import { Controller, Get, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public, Roles } from '../auth/roles.js';
import { badRequest, notFound } from '../common/problem.js';
import { AnchoringService } from './anchoring.service.js';
import { AuditService } from './audit.service.js';
import {
  AnchorContractDto,
  AnchorDto,
  AuditEventDto,
  CheckpointDto,
  ConsistencyProofDto,
  ConsistencyQueryDto,
  InclusionProofDto,
  InclusionQueryDto,
  PublicKeyDto,
} from './audit.dto.js';
import type { StoredEvent } from './audit-store.js';

const sizeParam = new ParseIntPipe({ exceptionFactory: () => badRequest('a tree size or seq is a non-negative integer') });

/**
 * Read API of the audit log. Proofs, checkpoints and anchors are public: anyone can check that
 * the log is append-only and matches the roots on the ledger. Event contents need a role.
 */
@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly anchoring: AnchoringService,
  ) {}

  @Get('public-key')
  @Public()
  @ApiOperation({ summary: 'The checkpoint signing key (held in the HSM)' })
  @ApiOkResponse({ type: PublicKeyDto })
  publicKey(): PublicKeyDto {
    return { ...this.audit.publicKey(), origin: this.audit.origin };
  }

  @Get('checkpoints/latest')
  @Public()
  @ApiOperation({ summary: 'The latest signed checkpoint' })
  @ApiOkResponse({ type: CheckpointDto })
  async latest(): Promise<CheckpointDto> {
    const row = await this.audit.store.latestCheckpoint();
    if (!row) throw notFound('no checkpoint has been signed yet');
    return this.audit.toCheckpoint(row);
  }

  @Get('checkpoints/:size')
  @Public()
  @ApiOperation({ summary: 'The signed checkpoint of a tree size' })
  @ApiOkResponse({ type: CheckpointDto })
  async bySize(@Param('size', sizeParam) size: number): Promise<CheckpointDto> {
    const row = await this.audit.store.checkpoint(size);
    if (!row) throw notFound(`no checkpoint was signed at tree size ${size}`);
    return this.audit.toCheckpoint(row);
  }

  @Post('checkpoints')
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Sign a checkpoint of the current tree now (returns the latest if nothing was appended)' })
  @ApiCreatedResponse({ type: CheckpointDto })
  async checkpointNow(): Promise<CheckpointDto> {
    const cp = await this.audit.checkpoint();
    if (!cp) throw badRequest('the audit log is empty; there is nothing to checkpoint');
    await this.anchoring.requestAnchoring();
    return cp;
  }

  @Get('events/:seq')
  @Roles('admin', 'regulator', 'operator')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'One event by its seq (leaf index)' })
  @ApiOkResponse({ type: AuditEventDto })
  async event(@Param('seq', sizeParam) seq: number): Promise<AuditEventDto> {
    const e = await this.audit.store.event(seq);
    if (!e) throw notFound(`no audit event with seq ${seq}`);
    return toEventDto(e);
  }

  @Get('proofs/inclusion')
  @Public()
  @ApiOperation({ summary: 'RFC 9162 inclusion proof of an event (by seq or leaf hash)' })
  @ApiOkResponse({ type: InclusionProofDto })
  async inclusion(@Query() q: InclusionQueryDto): Promise<InclusionProofDto> {
    if ((q.seq === undefined) === (q.leafHash === undefined)) throw badRequest('give exactly one of seq or leafHash');
    let seq = q.seq;
    let leafHash: string | undefined;
    if (q.leafHash !== undefined) {
      const e = await this.audit.store.eventByLeafHash(Buffer.from(q.leafHash, 'hex'));
      if (!e) throw notFound(`no audit event has leaf hash ${q.leafHash.toLowerCase()}`);
      seq = e.seq;
      leafHash = e.leafHash.toString('hex');
    }
    const latest = await this.audit.store.latestCheckpoint();
    const treeSize = q.treeSize ?? latest?.treeSize;
    if (treeSize === undefined) throw notFound('no checkpoint has been signed yet; give treeSize or wait for one');
    const size = await this.audit.store.size();
    if (treeSize > size) throw badRequest(`treeSize ${treeSize} is beyond the log's size ${size}`);
    if (seq! >= treeSize) throw badRequest(`event ${seq} is not in a tree of size ${treeSize}; ask for a larger treeSize`);
    if (leafHash === undefined) {
      const e = await this.audit.store.event(seq!);
      leafHash = e!.leafHash.toString('hex');
    }
    const hashes = await this.audit.store.inclusionProof(seq!, treeSize);
    const cp = await this.audit.store.checkpoint(treeSize);
    return {
      leafIndex: seq!,
      treeSize,
      leafHash,
      hashes: hashes.map((h) => h.toString('base64')),
      checkpoint: cp ? this.audit.toCheckpoint(cp) : null,
    };
  }

  @Get('proofs/consistency')
  @Public()
  @ApiOperation({ summary: 'RFC 9162 consistency proof between two tree sizes' })
  @ApiOkResponse({ type: ConsistencyProofDto })
  async consistency(@Query() q: ConsistencyQueryDto): Promise<ConsistencyProofDto> {
    if (q.from > q.to) throw badRequest(`from (${q.from}) must not exceed to (${q.to})`);
    const size = await this.audit.store.size();
    if (q.to > size) throw badRequest(`to (${q.to}) is beyond the log's size ${size}`);
    const hashes = await this.audit.store.consistencyProof(q.from, q.to);
    return { size1: q.from, size2: q.to, hashes: hashes.map((h) => h.toString('base64')) };
  }

  @Get('anchors/:size')
  @Public()
  @ApiOperation({ summary: 'Where a checkpoint is anchored on the ledger (transaction, block)' })
  @ApiOkResponse({ type: AnchorDto })
  async anchor(@Param('size', sizeParam) size: number): Promise<AnchorDto> {
    const a = await this.audit.store.anchor(size);
    if (!a) throw notFound(`no checkpoint was signed at tree size ${size}`);
    return a;
  }

  @Get('anchor-contract')
  @Public()
  @ApiOperation({ summary: 'The audit anchor contract: chain id and address' })
  @ApiOkResponse({ type: AnchorContractDto })
  async anchorContract(): Promise<AnchorContractDto> {
    const info = await this.anchoring.contractInfo();
    if (!info) throw notFound('no checkpoint has been anchored on this ledger yet; the audit contract is deployed by the first anchoring');
    return info;
  }
}

function toEventDto(e: StoredEvent): AuditEventDto {
  return { seq: e.seq, type: e.type, actor: e.actor, subject: e.subject, time: e.time, body: e.body, leafHash: e.leafHash.toString('hex') };
}
