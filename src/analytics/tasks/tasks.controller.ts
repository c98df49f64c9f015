import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest } from '../../common/problem.js';
import { ApproveTaskDto, DefineTaskDto, RejectTaskDto, SubmitPartialsDto, TaskDto, TaskResultDto } from './tasks.dto.js';
import { TasksService } from './tasks.service.js';

const uuidParam = new ParseUUIDPipe({ exceptionFactory: () => badRequest('the id must be a UUID') });

/** The regulators' reporting API: computation tasks over encrypted payments. */
@ApiTags('analytics')
@ApiBearerAuth()
@Controller('analytics/tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  @Roles('regulator')
  @ApiOperation({
    summary: 'Define a computation task (sum, count, histogram, linear-score, structuring) over a closed window',
    description: '422 when the cohort is below the minimum, when it differs from an earlier task\'s cohort by fewer than the minimum (differencing), or when the definition does not fit its kind.',
  })
  @ApiCreatedResponse({ type: TaskDto })
  define(@CurrentPrincipal() who: AuthenticatedPrincipal, @Body() body: DefineTaskDto): Promise<TaskDto> {
    return this.tasks.define(who, body);
  }

  @Get()
  @Roles('regulator')
  @ApiOperation({ summary: 'Tasks, newest first (at most 200)' })
  @ApiOkResponse({ type: [TaskDto] })
  list(): Promise<TaskDto[]> {
    return this.tasks.list();
  }

  @Get(':id')
  @Roles('regulator')
  @ApiOperation({ summary: 'One task: definition and digest to sign, status, approvals, and while decrypting its aggregates' })
  @ApiOkResponse({ type: TaskDto })
  get(@Param('id', uuidParam) id: string): Promise<TaskDto> {
    return this.tasks.get(id);
  }

  @Post(':id/approvals')
  @Roles('regulator')
  @HttpCode(201)
  @ApiOperation({ summary: "Approve a task with the regulator's signature over its digest; the k-th approval aggregates it (and spends epsilon from each approver's budget)" })
  @ApiCreatedResponse({ type: TaskDto })
  approve(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: ApproveTaskDto): Promise<TaskDto> {
    return this.tasks.approve(who, id, body);
  }

  @Post(':id/partials')
  @Roles('regulator')
  @HttpCode(201)
  @ApiOperation({ summary: 'Submit partial decryptions of every aggregate with Chaum-Pedersen proofs; the k-th valid set releases the result and deletes the intermediates' })
  @ApiCreatedResponse({ type: TaskDto })
  partials(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: SubmitPartialsDto): Promise<TaskDto> {
    return this.tasks.submitPartials(who, id, body);
  }

  @Post(':id/rejection')
  @Roles('regulator')
  @HttpCode(201)
  @ApiOperation({ summary: 'Reject a task before release (a regulator of its key set), with a reason' })
  @ApiCreatedResponse({ type: TaskDto })
  reject(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string, @Body() body: RejectTaskDto): Promise<TaskDto> {
    return this.tasks.reject(who, id, body);
  }

  @Get(':id/result')
  @Roles('regulator')
  @ApiOperation({ summary: 'The released result: only for the regulators who approved the task (403 otherwise)' })
  @ApiOkResponse({ type: TaskResultDto })
  result(@CurrentPrincipal() who: AuthenticatedPrincipal, @Param('id', uuidParam) id: string): Promise<TaskResultDto> {
    return this.tasks.result(who, id);
  }
}
