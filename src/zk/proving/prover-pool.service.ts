import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { circuitArtifacts, ProverPool, type CircuitName, type Groth16Result } from './prover-pool.js';

/**
 * The process's prover pool (ZK_PROVER_THREADS threads). Threads start with the first proof
 * (a process that never proves, e.g. an API that only verifies, loads no proving key) and then
 * stay warm until shutdown.
 */
@Injectable()
export class ProverPoolService implements OnApplicationShutdown {
  private readonly log = new Logger('ProverPool');
  readonly pool: ProverPool;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.pool = new ProverPool({
      threads: config.ZK_PROVER_THREADS,
      circuits: { balance: circuitArtifacts('balance'), eligibility: circuitArtifacts('eligibility') },
    });
  }

  prove(circuit: CircuitName, input: Record<string, unknown>): Promise<Groth16Result> {
    return this.pool.prove(circuit, input);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
    this.log.log('prover threads stopped');
  }
}
