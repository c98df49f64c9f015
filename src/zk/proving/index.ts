/** The proving side: the warm prover pool, proofs as a service and queued proof jobs. */
import { ProofController } from './proof.controller.js';
import { ProofService } from './proof.service.js';
import { ProverPoolService } from './prover-pool.service.js';

export const PROVING_CONTROLLERS = [ProofController];
export const PROVING_PROVIDERS = [ProverPoolService, ProofService];
export { ProofService, ProverPoolService };
