import { Body, Controller, Get, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/current-principal.decorator.js';
import { Public, Roles, type AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest } from '../../common/problem.js';
import { PaymentDto, RecordPaymentDto } from './payments.dto.js';
import { PaymentsService } from './payments.service.js';

const uuidParam = new ParseUUIDPipe({ exceptionFactory: () => badRequest('the id must be a UUID') });

/** Encrypted payments: submitted by wallet apps, readable and verifiable by anyone. */
@ApiTags('analytics')
@Controller('analytics/payments')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post()
  @Roles('wallet-app')
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Record a payment: amount commitment, six feature ciphertexts under the active key set, and a Groth16 proof that they match',
    description: 'Points are checked on the curve and in the prime-order subgroup; the public signals are recomputed by the service. 409 when no key set is active or (payer, reference) was recorded before; 422 when the proof does not verify.',
  })
  @ApiCreatedResponse({ type: PaymentDto })
  record(@CurrentPrincipal() who: AuthenticatedPrincipal, @Body() body: RecordPaymentDto): Promise<PaymentDto> {
    return this.payments.record(who, body);
  }

  @Get(':id')
  @Public()
  @ApiOperation({ summary: 'One payment with its commitment, ciphertexts, proof, key set and public signals: verifiable by anyone' })
  @ApiOkResponse({ type: PaymentDto })
  get(@Param('id', uuidParam) id: string): Promise<PaymentDto> {
    return this.payments.get(id);
  }
}
