import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiCreatedResponse, ApiForbiddenResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest } from '../../common/problem.js';

const nodeIdParam = (id: string): string => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) throw badRequest('the node id must be 1-64 letters, digits, dots, underscores or dashes');
  return id;
};
import {
  AbortCeremonyDto,
  NodeQuarantineDto,
  ApproveDto,
  PolicyProposalDto,
  PolicyProposalListQueryDto,
  ProposePolicyDto,
  CeremonyDto,
  CeremonyListQueryDto,
  CreateWalletDto,
  OperatorDto,
  RejectDto,
  PolicyDto,
  RegisterOperatorDto,
  RequestTransferDto,
  SetPolicyDto,
  WalletDto,
} from './custody.dto.js';
import { CustodyService } from './custody.service.js';
import { CustodyWalletService } from './custody-wallet.service.js';

const uuidParam = new ParseUUIDPipe({ exceptionFactory: () => badRequest('the id must be a UUID') });

/** Custody operators, wallet policies and signing ceremonies. */
@ApiTags('custody')
@ApiBearerAuth()
@Controller('custody')
export class CustodyController {
  constructor(
    private readonly custody: CustodyService,
    private readonly wallets: CustodyWalletService,
  ) {}

  @Post('wallets')
  @Roles('admin')
  @ApiOperation({ summary: 'Create a wallet: key generation across the signer nodes, then a CustodyWallet contract for the group key' })
  @ApiCreatedResponse({ type: WalletDto })
  createWallet(@CurrentPrincipal() who: AuthenticatedPrincipal, @Body() body: CreateWalletDto): Promise<WalletDto> {
    return this.wallets.create(who, body.threshold, body.nodes);
  }

  @Post('operators')
  @Roles('admin')
  @ApiOperation({ summary: "Register an operator: an 'operator' principal and the public key its approvals verify with" })
  @ApiCreatedResponse({ type: OperatorDto })
  registerOperator(@CurrentPrincipal() who: AuthenticatedPrincipal, @Body() body: RegisterOperatorDto): Promise<OperatorDto> {
    return this.custody.registerOperator(who, body);
  }

  @Put('wallets/:id/policy')
  @Roles('admin')
  @ApiOperation({ summary: "Set a wallet's first policy: quorum, limits, allowlist, time delay (later changes are proposals approved by its operators)" })
  @ApiOkResponse({ type: PolicyDto })
  @ApiConflictResponse({ description: 'The wallet already has a policy: propose a change instead' })
  setPolicy(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: SetPolicyDto): Promise<PolicyDto> {
    return this.custody.setPolicy(who, id, body);
  }

  @Get('wallets/:id/policy')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: "A wallet's current policy version" })
  @ApiOkResponse({ type: PolicyDto })
  getPolicy(@Param('id', uuidParam) id: string): Promise<PolicyDto> {
    return this.custody.getPolicy(id);
  }

  @Post('wallets/:id/policy-proposals')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: "Propose a new policy (an operator of the current policy, or an admin); it applies once a quorum of the current policy's operators sign its digest" })
  @ApiCreatedResponse({ type: PolicyProposalDto })
  @ApiForbiddenResponse({ description: 'The caller is neither an admin nor an operator of the current policy' })
  @ApiConflictResponse({ description: 'The wallet has no policy yet' })
  proposePolicy(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: ProposePolicyDto): Promise<PolicyProposalDto> {
    return this.custody.proposePolicy(who, id, body);
  }

  @Get('policy-proposals')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'Policy proposals, optionally of one status and/or wallet' })
  @ApiOkResponse({ type: [PolicyProposalDto] })
  listProposals(@Query() query: PolicyProposalListQueryDto): Promise<PolicyProposalDto[]> {
    return this.custody.listProposals(query.status, query.walletId);
  }

  @Get('policy-proposals/:id')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'One policy proposal with its digest, status and approvals' })
  @ApiOkResponse({ type: PolicyProposalDto })
  getProposal(@Param('id', uuidParam) id: string): Promise<PolicyProposalDto> {
    return this.custody.getProposal(id);
  }

  @Post('policy-proposals/:id/approvals')
  @Roles('operator')
  @HttpCode(201)
  @ApiOperation({ summary: "Approve a policy proposal with the operator's ECDSA signature over its digest; the quorum applies it" })
  @ApiCreatedResponse({ type: PolicyProposalDto })
  @ApiForbiddenResponse({ description: 'Not the named operator, or not an operator of the base policy version' })
  @ApiConflictResponse({ description: 'Already approved by this operator, or the proposal is expired, superseded (stale base version), applied or rejected' })
  @ApiUnprocessableEntityResponse({ description: 'The signature does not verify over the digest' })
  approvePolicy(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: ApproveDto): Promise<PolicyProposalDto> {
    return this.custody.approvePolicy(who, id, body.operator, body.signature);
  }

  @Post('policy-proposals/:id/rejection')
  @Roles('operator')
  @HttpCode(201)
  @ApiOperation({ summary: 'Reject a requested policy proposal (an operator of the base policy), with a reason' })
  @ApiCreatedResponse({ type: PolicyProposalDto })
  rejectPolicy(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: RejectDto): Promise<PolicyProposalDto> {
    return this.custody.rejectPolicy(who, id, body.operator, body.reason);
  }

  @Post('wallets/:id/ceremonies')
  @Roles('operator')
  @ApiOperation({ summary: 'Request a transfer out of a wallet: checked against its policy, then a signing ceremony awaiting approvals' })
  @ApiCreatedResponse({ type: CeremonyDto })
  request(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: RequestTransferDto): Promise<CeremonyDto> {
    return this.custody.requestTransfer(who, id, body);
  }

  @Get('ceremonies')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: "Ceremonies, optionally of one status ('pending' = requested or approved)" })
  @ApiOkResponse({ type: [CeremonyDto] })
  list(@Query() query: CeremonyListQueryDto): Promise<CeremonyDto[]> {
    return this.custody.list(query.status);
  }

  @Get('ceremonies/:id')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'One ceremony with its digest, status and approvals' })
  @ApiOkResponse({ type: CeremonyDto })
  get(@Param('id', uuidParam) id: string): Promise<CeremonyDto> {
    return this.custody.get(id);
  }

  @Post('ceremonies/:id/approvals')
  @Roles('operator')
  @HttpCode(201)
  @ApiOperation({ summary: "Approve a ceremony with the operator's ECDSA signature over its digest" })
  @ApiCreatedResponse({ type: CeremonyDto })
  approve(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: ApproveDto): Promise<CeremonyDto> {
    return this.custody.approve(who, id, body.operator, body.signature);
  }

  @Post('ceremonies/:id/rejection')
  @Roles('operator')
  @HttpCode(201)
  @ApiOperation({ summary: 'Reject a ceremony before signing (an operator of its policy), with a reason' })
  @ApiCreatedResponse({ type: CeremonyDto })
  reject(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: RejectDto): Promise<CeremonyDto> {
    return this.custody.reject(who, id, body.operator, body.reason);
  }

  @Post('ceremonies/:id/abort')
  @Roles('operator', 'admin')
  @HttpCode(201)
  @ApiOperation({ summary: 'Abort a ceremony that is requested, approved or signing (an operator of its policy, or an admin), with a reason; the nonce is released' })
  @ApiCreatedResponse({ type: CeremonyDto })
  @ApiConflictResponse({ description: 'The ceremony is signed or later (its signature stays valid on chain), or has ended' })
  abort(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: AbortCeremonyDto): Promise<CeremonyDto> {
    return this.custody.abort(who, id, body.operator, body.reason);
  }

  @Get('node-quarantine')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'Signer nodes left out of signing after they misbehaved (invalid share, forged or altered answer)' })
  @ApiOkResponse({ type: [NodeQuarantineDto] })
  quarantined(): Promise<NodeQuarantineDto[]> {
    return this.custody.quarantinedNodes();
  }

  @Delete('node-quarantine/:nodeId')
  @Roles('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Release a quarantined signer node: it takes part in signing again' })
  @ApiNoContentResponse({ description: 'Released' })
  @ApiNotFoundResponse({ description: 'The node is not quarantined' })
  async release(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('nodeId') nodeId: string): Promise<void> {
    await this.custody.releaseNode(who, nodeIdParam(nodeId));
  }
}
