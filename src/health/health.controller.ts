import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/roles.js';
import { DbHealth } from '../db/db-health.js';
import { HsmService } from '../hsm/hsm.service.js';
import { LedgerService } from '../ledger/ledger.service.js';

class ComponentStatusDto {
  @ApiProperty({ enum: ['ok', 'down'] }) status!: 'ok' | 'down';
  @ApiProperty({ required: false }) detail?: string;
}

class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'down'] }) status!: 'ok' | 'down';
  @ApiProperty() database!: ComponentStatusDto;
  @ApiProperty() hsm!: ComponentStatusDto;
  @ApiProperty() ledger!: ComponentStatusDto;
}

const TIMEOUT_MS = 3000;

async function probe<T extends { status: 'ok' | 'down' }>(name: string, check: () => Promise<T>): Promise<T | { status: 'down'; detail: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ status: 'down'; detail: string }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'down', detail: `${name} did not answer within ${TIMEOUT_MS} ms` }), TIMEOUT_MS);
  });
  try {
    return await Promise.race([check().catch((e: unknown) => ({ status: 'down' as const, detail: (e as Error).message })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly db: DbHealth,
    private readonly hsm: HsmService,
    private readonly ledger: LedgerService,
  ) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness: the process is up and serving' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: database, HSM and ledger, each with its status' })
  @ApiOkResponse({ type: ReadinessDto })
  @ApiServiceUnavailableResponse({ type: ReadinessDto })
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadinessDto> {
    const [database, hsm, ledger] = await Promise.all([
      probe('database', () => this.db.health()),
      probe('HSM', () => this.hsm.health()),
      probe('ledger', () => this.ledger.health()),
    ]);
    const ok = [database, hsm, ledger].every((c) => c.status === 'ok');
    res.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: ok ? 'ok' : 'down', database, hsm, ledger };
  }
}
