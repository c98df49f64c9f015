import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthService } from './auth.service.js';
import { CreatePrincipalDto, IssuedKeyDto, PrincipalDto, RevokedKeyDto } from './admin.dto.js';
import { Roles } from './roles.js';
import { badRequest } from '../common/problem.js';
import { CurrentPrincipal } from './current-principal.decorator.js';
import type { AuthenticatedPrincipal } from './roles.js';

@ApiTags('admin')
@ApiBearerAuth()
@Roles('admin')
@Controller('admin')
export class AdminController {
  constructor(private readonly auth: AuthService) {}

  @Get('principals')
  @ApiOperation({ summary: 'List principals and the public prefixes of their keys' })
  @ApiOkResponse({ type: [PrincipalDto] })
  list(): Promise<PrincipalDto[]> {
    return this.auth.list();
  }

  @Post('principals')
  @ApiOperation({ summary: 'Register a principal (wallet app, regulator, operator or admin)' })
  @ApiCreatedResponse({ type: PrincipalDto })
  create(@Body() dto: CreatePrincipalDto, @CurrentPrincipal() who: AuthenticatedPrincipal): Promise<PrincipalDto> {
    return this.auth.createPrincipal(dto.name, dto.role, who.name);
  }

  @Post('principals/:name/keys')
  @ApiOperation({ summary: 'Issue an API key for a principal; the key is returned once' })
  @ApiCreatedResponse({ type: IssuedKeyDto })
  issue(@Param('name') name: string, @CurrentPrincipal() who: AuthenticatedPrincipal): Promise<IssuedKeyDto> {
    return this.auth.issueKey(name, who.name);
  }

  @Delete('keys/:prefix')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key by its public prefix' })
  @ApiOkResponse({ type: RevokedKeyDto })
  revoke(@Param('prefix') prefix: string, @CurrentPrincipal() who: AuthenticatedPrincipal): Promise<RevokedKeyDto> {
    if (!/^[0-9a-f]{8}$/.test(prefix)) throw badRequest('a key prefix is 8 lowercase hex characters');
    return this.auth.revokeKey(prefix, who.name);
  }
}
