import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest } from '../../common/problem.js';
import {
  BalanceProofRequestDto,
  EligibilityProofRequestDto,
  ProofJobAcceptedDto,
  ProofJobDto,
  ProofResponseDto,
  ProveQueryDto,
} from './proof.dto.js';
import { ProofService } from './proof.service.js';

const jobIdParam = new ParseUUIDPipe({ exceptionFactory: () => badRequest('a job id is a UUID') });

/**
 * Proofs as a service for the bank's wallet apps. Each request carries the wallet's secret for
 * one proof; the answer is the proof and its public signals (what a relying party verifies).
 * ?async=true queues the proof and answers 202 with a job id to poll.
 */
@ApiTags('zk')
@ApiBearerAuth()
@Controller('zk/proofs')
export class ProofController {
  constructor(private readonly proofs: ProofService) {}

  @Post('balance')
  @Roles('wallet-app')
  @HttpCode(200)
  @ApiOperation({ summary: 'Prove that one of the caller\'s accounts held at least `threshold` in a balance epoch' })
  @ApiOkResponse({ type: ProofResponseDto })
  @ApiAcceptedResponse({ type: ProofJobAcceptedDto, description: 'with ?async=true' })
  @ApiUnprocessableEntityResponse({ description: 'the statement is false (balance below threshold, wrong account secret)' })
  async balance(
    @CurrentPrincipal() principal: AuthenticatedPrincipal,
    @Body() body: BalanceProofRequestDto,
    @Query() query: ProveQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ProofResponseDto | ProofJobAcceptedDto> {
    const prepared = await this.proofs.prepareBalance(principal, body);
    if (!query.async) return this.proofs.prove(principal, prepared);
    res.status(202);
    return this.proofs.enqueue(principal, prepared);
  }

  @Post('eligibility')
  @Roles('wallet-app')
  @HttpCode(200)
  @ApiOperation({ summary: 'Prove that one of the caller\'s identities is old enough, not denylisted, with a nullifier for the scope' })
  @ApiOkResponse({ type: ProofResponseDto })
  @ApiAcceptedResponse({ type: ProofJobAcceptedDto, description: 'with ?async=true' })
  @ApiUnprocessableEntityResponse({ description: 'the statement is false (too young, denylisted, wrong identity secret)' })
  async eligibility(
    @CurrentPrincipal() principal: AuthenticatedPrincipal,
    @Body() body: EligibilityProofRequestDto,
    @Query() query: ProveQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ProofResponseDto | ProofJobAcceptedDto> {
    const prepared = await this.proofs.prepareEligibility(principal, body);
    if (!query.async) return this.proofs.prove(principal, prepared);
    res.status(202);
    return this.proofs.enqueue(principal, prepared);
  }

  @Get('jobs/:id')
  @Roles('wallet-app')
  @ApiOperation({ summary: 'A queued proof: its status, and the proof once done (the caller\'s jobs only)' })
  @ApiOkResponse({ type: ProofJobDto })
  job(@CurrentPrincipal() principal: AuthenticatedPrincipal, @Param('id', jobIdParam) id: string): Promise<ProofJobDto> {
    return this.proofs.job(principal, id);
  }
}
