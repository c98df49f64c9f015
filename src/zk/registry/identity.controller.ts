import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest } from '../../common/problem.js';
import { EnrolIdentityDto, EnrolmentDto, IdentityPathDto, RevocationDto, parseBirthDate } from './registry.dto.js';
import { IdentityRegistryService } from './identity-registry.service.js';

export const uuidParam = new ParseUUIDPipe({ exceptionFactory: () => badRequest('the id must be a UUID') });

/** The identity tree: wallet apps enrol their customers' identity commitments; admins revoke. */
@ApiTags('zk')
@ApiBearerAuth()
@Controller('zk/identities')
export class IdentityController {
  constructor(private readonly identities: IdentityRegistryService) {}

  @Post()
  @Roles('wallet-app')
  @ApiOperation({ summary: "Enrol an identity commitment with the bank's attested birth date and jurisdiction" })
  @ApiCreatedResponse({ type: EnrolmentDto })
  async enrol(@CurrentPrincipal() principal: AuthenticatedPrincipal, @Body() body: EnrolIdentityDto): Promise<EnrolmentDto> {
    const e = await this.identities.enrol(principal, {
      commitment: BigInt(body.commitment),
      birthDate: parseBirthDate(body.birthDate)!,
      jurisdiction: body.jurisdiction,
    });
    return { id: e.id, leafIndex: e.leafIndex, leaf: e.leaf.toString(), root: e.root.toString() };
  }

  @Delete(':id')
  @Roles('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an identity: its leaf becomes 0 and the tree gets a new root' })
  @ApiOkResponse({ type: RevocationDto })
  async revoke(@CurrentPrincipal() principal: AuthenticatedPrincipal, @Param('id', uuidParam) id: string): Promise<RevocationDto> {
    const r = await this.identities.revoke(principal, id);
    return { ...r, root: r.root.toString() };
  }

  @Get(':id/path')
  @Roles('wallet-app')
  @ApiOperation({ summary: "The identity's Merkle path to the current identity root (its owner only)" })
  @ApiOkResponse({ type: IdentityPathDto })
  async path(@CurrentPrincipal() principal: AuthenticatedPrincipal, @Param('id', uuidParam) id: string): Promise<IdentityPathDto> {
    const p = await this.identities.path(principal.id, id);
    return {
      leafIndex: p.leafIndex,
      leaf: p.leaf.toString(),
      pathElements: p.pathElements.map((x) => x.toString()),
      pathIndices: p.pathIndices.map(Number),
      root: p.root.toString(),
    };
  }
}
