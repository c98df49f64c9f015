import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest } from '../../common/problem.js';
import { MaintenanceApproveDto, MaintenanceDto, MaintenanceListQueryDto, MaintenanceRejectDto, RequestMaintenanceDto } from './share-maintenance.dto.js';
import { ShareMaintenanceService } from './share-maintenance.service.js';

const uuidParam = new ParseUUIDPipe({ exceptionFactory: () => badRequest('the id must be a UUID') });

/** Share refresh and resharing ceremonies of custody wallets (docs/custody-maintenance.md). */
@ApiTags('custody')
@ApiBearerAuth()
@Controller('custody')
export class ShareMaintenanceController {
  constructor(private readonly maintenance: ShareMaintenanceService) {}

  @Post('wallets/:id/maintenance')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: "Request a share refresh (same key, new shares) or a resharing to a new node set/threshold; it runs once the policy's operator quorum approves" })
  @ApiCreatedResponse({ type: MaintenanceDto })
  request(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: RequestMaintenanceDto): Promise<MaintenanceDto> {
    return this.maintenance.request(who, id, body);
  }

  @Get('maintenance')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'Maintenance ceremonies, optionally of one status' })
  @ApiOkResponse({ type: [MaintenanceDto] })
  list(@Query() query: MaintenanceListQueryDto): Promise<MaintenanceDto[]> {
    return this.maintenance.list(query.status);
  }

  @Get('maintenance/:id')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'One maintenance ceremony: digest, status, phase, approvals, dealers, failures' })
  @ApiOkResponse({ type: MaintenanceDto })
  get(@Param('id', uuidParam) id: string): Promise<MaintenanceDto> {
    return this.maintenance.get(id);
  }

  @Post('maintenance/:id/approvals')
  @Roles('operator')
  @HttpCode(201)
  @ApiOperation({ summary: "Approve a maintenance ceremony with the operator's ECDSA signature over its digest" })
  @ApiCreatedResponse({ type: MaintenanceDto })
  approve(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: MaintenanceApproveDto): Promise<MaintenanceDto> {
    return this.maintenance.approve(who, id, body.operator, body.signature);
  }

  @Post('maintenance/:id/rejection')
  @Roles('operator')
  @HttpCode(201)
  @ApiOperation({ summary: 'Reject a maintenance ceremony before it runs (an operator of its policy), with a reason' })
  @ApiCreatedResponse({ type: MaintenanceDto })
  reject(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: MaintenanceRejectDto): Promise<MaintenanceDto> {
    return this.maintenance.reject(who, id, body.operator, body.reason);
  }
}
