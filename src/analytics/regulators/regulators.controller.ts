import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Public, Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest, notFound } from '../../common/problem.js';
import { KeyCeremonyService } from './key-ceremony.service.js';
import {
  CreateKeySetDto,
  DealReceiptDto,
  DealsForRegulatorDto,
  KeySetDto,
  KeySetListQueryDto,
  RegisterRegulatorDto,
  RegulatorDto,
  SubmitDealDto,
  SubmitVerdictsDto,
  VerdictReceiptDto,
} from './regulators.dto.js';

const uuidParam = new ParseUUIDPipe({ exceptionFactory: () => badRequest('the key set id must be a UUID') });

/** Regulators and their threshold key ceremonies (one DKG per feature slot). */
@ApiTags('analytics')
@ApiBearerAuth()
@Controller('analytics')
export class RegulatorsController {
  constructor(private readonly ceremonies: KeyCeremonyService) {}

  @Post('regulators')
  @Roles('admin')
  @ApiOperation({ summary: "Register a regulator: a 'regulator' principal, its signing key and its share-transport encryption key" })
  @ApiCreatedResponse({ type: RegulatorDto })
  register(@CurrentPrincipal() who: AuthenticatedPrincipal, @Body() body: RegisterRegulatorDto): Promise<RegulatorDto> {
    return this.ceremonies.register(who, body);
  }

  @Get('regulators')
  @Roles('regulator', 'admin')
  @ApiOperation({ summary: 'Registered regulators with their public keys' })
  @ApiOkResponse({ type: [RegulatorDto] })
  list(): Promise<RegulatorDto[]> {
    return this.ceremonies.listRegulators();
  }

  @Post('key-sets')
  @Roles('admin')
  @ApiOperation({ summary: 'Start a key ceremony: t-of-n among the listed regulators (indices in the listed order), one DKG per feature slot' })
  @ApiCreatedResponse({ type: KeySetDto })
  createKeySet(@CurrentPrincipal() who: AuthenticatedPrincipal, @Body() body: CreateKeySetDto): Promise<KeySetDto> {
    return this.ceremonies.createKeySet(who, body);
  }

  @Get('key-sets')
  @Roles('regulator', 'admin')
  @ApiOperation({ summary: 'Key sets, newest first (at most 100), optionally of one status' })
  @ApiOkResponse({ type: [KeySetDto] })
  listKeySets(@Query() query: KeySetListQueryDto): Promise<KeySetDto[]> {
    return this.ceremonies.listKeySets(query.status);
  }

  @Get('key-sets/active')
  @Public()
  @ApiOperation({
    summary: 'The active key set with its slot public keys: what a wallet app encrypts payment features under (public data)',
    description: '404 while no key ceremony has completed.',
  })
  @ApiOkResponse({ type: KeySetDto })
  async activeKeySet(): Promise<KeySetDto> {
    const [active] = await this.ceremonies.listKeySets('active');
    if (!active) throw notFound('no key set is active yet: the regulators have not completed a key ceremony');
    return active;
  }

  @Get('key-sets/:id')
  @Roles('regulator', 'admin')
  @ApiOperation({ summary: 'A key set: status, per-slot progress and complaints, and the slot public keys once active' })
  @ApiOkResponse({ type: KeySetDto })
  keySet(@Param('id', uuidParam) id: string): Promise<KeySetDto> {
    return this.ceremonies.keySet(id);
  }

  @Post('key-sets/:id/deals')
  @Roles('regulator')
  @ApiOperation({
    summary: "Round 1: a participant's signed deal: per slot its dealer commitment and its shares, each encrypted to its recipient",
    description: 'Commitments are verified on receipt (422 naming the dealer and slot); 403 for a non-participant, 409 for a second deal, 422 for a bad signature.',
  })
  @ApiCreatedResponse({ type: DealReceiptDto })
  deal(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: SubmitDealDto): Promise<DealReceiptDto> {
    return this.ceremonies.submitDeal(who, id, body);
  }

  @Get('key-sets/:id/deals/for/:regulator')
  @Roles('regulator')
  @ApiOperation({ summary: 'The encrypted shares addressed to the calling regulator, and every dealer commitment' })
  @ApiOkResponse({ type: DealsForRegulatorDto })
  dealsFor(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Param('regulator') regulator: string): Promise<DealsForRegulatorDto> {
    return this.ceremonies.dealsFor(who, id, regulator);
  }

  @Post('key-sets/:id/verdicts')
  @Roles('regulator')
  @HttpCode(200)
  @ApiOperation({
    summary: "Round 2: a participant's signed verdicts: per slot ok, or complaints with the revealed share and envelope key as evidence",
    description: 'When every participant has posted, the slot keys are computed and the key set becomes active (or failed with a reason).',
  })
  @ApiOkResponse({ type: VerdictReceiptDto })
  verdicts(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: SubmitVerdictsDto): Promise<VerdictReceiptDto> {
    return this.ceremonies.submitVerdicts(who, id, body);
  }
}
