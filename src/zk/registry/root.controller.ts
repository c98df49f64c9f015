import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../../auth/roles.js';
import { RootHistoryDto } from './registry.dto.js';
import { RootHistoryService, type ZkTree } from './root-history.service.js';

/** Root histories are public: relying parties check a proof's root against them (and the ledger). */
@ApiTags('zk')
@Controller('zk/roots')
export class RootController {
  constructor(private readonly roots: RootHistoryService) {}

  @Get('identity')
  @Public()
  @ApiOperation({ summary: 'Current identity root and its history with validity windows and ledger publication' })
  @ApiOkResponse({ type: RootHistoryDto })
  identity(): Promise<RootHistoryDto> {
    return this.view('identity');
  }

  @Get('balance')
  @Public()
  @ApiOperation({ summary: 'Current balance root (latest epoch) and its history with validity windows and ledger publication' })
  @ApiOkResponse({ type: RootHistoryDto })
  balance(): Promise<RootHistoryDto> {
    return this.view('balance');
  }

  private async view(tree: ZkTree): Promise<RootHistoryDto> {
    const history = await this.roots.history(tree);
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      tree,
      current: history.find((h) => h.current)?.root ?? null,
      windowSeconds: this.roots.windowSeconds,
      history: history.map((h) => ({
        version: h.version,
        root: h.root,
        createdAt: h.createdAt.toISOString(),
        supersededAt: iso(h.supersededAt),
        validUntil: iso(h.validUntil),
        current: h.current,
        valid: h.valid,
        publication: h.publication
          ? {
              status: h.publication.status,
              chainId: h.publication.chainId,
              contractAddress: h.publication.contractAddress,
              txHash: h.publication.txHash,
              blockNumber: h.publication.blockNumber,
            }
          : null,
      })),
    };
  }
}
