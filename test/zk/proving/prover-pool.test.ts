/**
 * The prover pool: warm worker threads prove both circuits from the committed artifacts, the
 * proofs verify with the snarkjs CLI, a false statement fails without quoting any input, and
 * close() ends every thread (Jest would report open handles otherwise).
 */
import { balanceInput, eligibilityInput } from '../../../src/zk/circuit-inputs.js';
import { ProverError, ProverPool, circuitArtifacts } from '../../../src/zk/proving/prover-pool.js';
import { localBalanceWitness, localEligibilityWitness, verifyWithCli } from './support.js';

const pool = new ProverPool({
  threads: 1,
  circuits: { balance: circuitArtifacts('balance'), eligibility: circuitArtifacts('eligibility') },
});

afterAll(() => pool.close());

describe('prover pool', () => {
  it('proves balance and eligibility on a warm thread; the CLI verifies both', async () => {
    await pool.start();
    const balance = balanceInput(await localBalanceWitness());
    const eligibility = eligibilityInput(await localEligibilityWitness());
    // First proofs warm the thread; the second round is what a request pays.
    await Promise.all([pool.prove('balance', balance), pool.prove('eligibility', eligibility)]);
    let t = performance.now();
    const b = await pool.prove('balance', balance);
    const balanceMs = performance.now() - t;
    t = performance.now();
    const e = await pool.prove('eligibility', eligibility);
    const eligibilityMs = performance.now() - t;
    process.stdout.write(`warm proving latency: balance ${balanceMs.toFixed(0)} ms, eligibility ${eligibilityMs.toFixed(0)} ms\n`);
    expect(b.publicSignals).toEqual([balance.root, balance.threshold, balance.challenge]);
    expect(e.publicSignals[1]).toBe(eligibility.root);
    expect(await verifyWithCli('balance', b.proof, b.publicSignals)).toBe(true);
    expect(await verifyWithCli('eligibility', e.proof, e.publicSignals)).toBe(true);
  });

  it('a false statement fails with a fixed reason that quotes no input', async () => {
    const input = balanceInput(await localBalanceWitness({ balance: 10n, threshold: 9_999_999n }));
    const err = await pool.prove('balance', input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProverError);
    expect((err as Error).message).toBe('the inputs do not satisfy the circuit');
    expect((err as Error).message).not.toContain('9999999');
  });

  it('rejects proofs after close', async () => {
    const other = new ProverPool({ threads: 1, circuits: { balance: circuitArtifacts('balance') } });
    await other.start();
    expect(other.stats()).toEqual({ threads: 1, busy: 0, queued: 0 });
    await other.close();
    await expect(other.prove('balance', {})).rejects.toThrow(ProverError);
  });
});
