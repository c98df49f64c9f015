import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest } from '../../common/problem.js';
import {
  ApproveDto,
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
  @ApiOperation({ summary: "Set a wallet's policy (a new version): quorum, limits, allowlist, time delay" })
  @ApiOkResponse({ type: PolicyDto })
  setPolicy(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: SetPolicyDto): Promise<PolicyDto> {
    return this.custody.setPolicy(who, id, body);
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
}
