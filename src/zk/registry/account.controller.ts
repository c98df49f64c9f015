import { Body, Controller, Get, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import {
  AccountCreatedDto,
  BalancePathDto,
  BalancePathQueryDto,
  BalanceSetDto,
  EpochDto,
  RegisterAccountDto,
  SetBalanceDto,
} from './registry.dto.js';
import { AccountRegistryService } from './account-registry.service.js';
import { uuidParam } from './identity.controller.js';

/** Accounts whose balances are snapshotted into balance trees, one per epoch. */
@ApiTags('zk')
@ApiBearerAuth()
@Controller('zk/accounts')
export class AccountController {
  constructor(private readonly accounts: AccountRegistryService) {}

  @Post()
  @Roles('wallet-app')
  @ApiOperation({ summary: 'Register an account commitment Poseidon(accountSecret)' })
  @ApiCreatedResponse({ type: AccountCreatedDto })
  register(@CurrentPrincipal() principal: AuthenticatedPrincipal, @Body() body: RegisterAccountDto): Promise<AccountCreatedDto> {
    return this.accounts.register(principal, BigInt(body.commitment));
  }

  @Put(':id/balance')
  @Roles('admin')
  @ApiOperation({ summary: "Set an account's balance (enters proofs with the next epoch)" })
  @ApiOkResponse({ type: BalanceSetDto })
  async setBalance(
    @CurrentPrincipal() principal: AuthenticatedPrincipal,
    @Param('id', uuidParam) id: string,
    @Body() body: SetBalanceDto,
  ): Promise<BalanceSetDto> {
    const r = await this.accounts.setBalance(principal, id, BigInt(body.balance));
    return { id: r.id, balance: r.balance.toString() };
  }

  @Get(':id/path')
  @Roles('wallet-app')
  @ApiOperation({ summary: "The account's leaf (balance, salt) and Merkle path in an epoch (its owner only)" })
  @ApiOkResponse({ type: BalancePathDto })
  async path(
    @CurrentPrincipal() principal: AuthenticatedPrincipal,
    @Param('id', uuidParam) id: string,
    @Query() q: BalancePathQueryDto,
  ): Promise<BalancePathDto> {
    const p = await this.accounts.path(principal.id, id, q.epoch);
    return {
      epoch: p.epoch,
      leafIndex: p.leafIndex,
      balance: p.balance.toString(),
      salt: p.salt.toString(),
      leaf: p.leaf.toString(),
      pathElements: p.pathElements.map((x) => x.toString()),
      pathIndices: p.pathIndices.map(Number),
      root: p.root.toString(),
    };
  }
}

@ApiTags('zk')
@ApiBearerAuth()
@Controller('zk/epochs')
export class EpochController {
  constructor(private readonly accounts: AccountRegistryService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Snapshot every account into a new balance tree (fresh salts) and publish its root' })
  @ApiCreatedResponse({ type: EpochDto })
  async create(@CurrentPrincipal() principal: AuthenticatedPrincipal): Promise<EpochDto> {
    const e = await this.accounts.createEpoch(principal);
    return { epoch: e.epoch, root: e.root.toString(), size: e.size, createdAt: e.createdAt.toISOString() };
  }
}
