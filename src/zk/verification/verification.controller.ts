import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { Public } from '../../auth/roles.js';
import { notFound } from '../../common/problem.js';
import { isCircuitName } from '../proving/prover-pool.js';
import { VerificationService } from './verification.service.js';
import { VerificationKeyDto, VerifyRequestDto, VerifyResultDto } from './verify.dto.js';

/**
 * Verification for relying parties: public, like the verifier contracts. Anyone holding a proof
 * and the challenge they issued can check it; an eligibility proof is accepted once per scope.
 */
@ApiTags('zk')
@Controller('zk')
export class VerificationController {
  constructor(private readonly verification: VerificationService) {}

  @Post('verify')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Verify a balance or eligibility proof against the expected challenge and policy',
    description:
      'Checks the proof shape, the public signals (canonical field elements), the expected challenge and policy, that the ' +
      'root is a current or recent root of the service\'s tree, and the Groth16 pairing equation. An eligibility proof\'s ' +
      'nullifier is consumed for its scope: a second verification of the same proof (or another proof of the same identity ' +
      'for the same scope) is refused with 409.',
  })
  @ApiOkResponse({ type: VerifyResultDto })
  @ApiUnprocessableEntityResponse({ description: 'malformed proof, invalid signal, challenge or policy mismatch, unknown or expired root, invalid proof' })
  verify(@Body() body: VerifyRequestDto): Promise<VerifyResultDto> {
    return this.verification.verify(body, null);
  }

  @Get('circuits/:name/verification-key')
  @Public()
  @ApiOperation({ summary: 'The Groth16 verification key of a circuit (snarkjs verification_key.json)' })
  @ApiOkResponse({ type: VerificationKeyDto })
  verificationKey(@Param('name') name: string): Record<string, unknown> {
    if (!isCircuitName(name)) throw notFound(`no circuit named "${name}" (circuits: balance, eligibility)`);
    return this.verification.verificationKey(name);
  }
}
