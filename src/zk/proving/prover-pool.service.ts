import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { circuitArtifacts, ProverPool, type CircuitName, type Groth16Result } from './prover-pool.js';

/**
 * The process's prover pool (ZK_PROVER_THREADS threads). Outside tests the threads start in the
 * background once the application has started, so the first proof does not pay for loading the
 * proving keys; under tests they start with the first proof. Either way they then stay warm
 * until shutdown, when each thread stops snarkjs' curve threads and exits.
 */
@Injectable()
export class ProverPoolService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('ProverPool');
  readonly pool: ProverPool;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.pool = new ProverPool({
      threads: this.config.ZK_PROVER_THREADS,
      circuits: { balance: circuitArtifacts('balance'), eligibility: circuitArtifacts('eligibility') },
    });
  }

  prove(circuit: CircuitName, input: Record<string, unknown>): Promise<Groth16Result> {
    return this.pool.prove(circuit, input);
  }

  onApplicationBootstrap(): void {
    if (this.config.NODE_ENV === 'test') return;
    const started = Date.now();
    this.pool.start().then(
      () => this.log.log(`${this.config.ZK_PROVER_THREADS} prover thread(s) warm in ${Date.now() - started} ms`),
      (e: Error) => this.log.error(`prover threads did not start: ${e.message}`),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
    this.log.log('prover threads stopped');
  }
}
