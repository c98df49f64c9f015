/** The verification side: POST /zk/verify and the published verification keys. */
import { VerificationController } from './verification.controller.js';
import { VerificationService } from './verification.service.js';

export const VERIFICATION_CONTROLLERS = [VerificationController];
export const VERIFICATION_PROVIDERS = [VerificationService];
export { VerificationService };
