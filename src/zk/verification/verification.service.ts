import { readFileSync } from 'node:fs';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import * as snarkjs from 'snarkjs';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import { conflict, unprocessable } from '../../common/problem.js';
import {
  CircuitInputError,
  MAX_UINT64,
  parseBalanceSignals,
  parseEligibilitySignals,
  toField,
  yyyymmdd,
  type BalancePublicSignals,
  type EligibilityPublicSignals,
} from '../circuit-inputs.js';
import { circuitArtifacts, CIRCUITS, type CircuitName } from '../proving/prover-pool.js';
import { RootHistoryService } from '../registry/root-history.service.js';
import { MalformedProofError, parseGroth16Proof } from './groth16-proof.js';
import type { VerifyExpectDto, VerifyRequestDto, VerifyResultDto } from './verify.dto.js';

/** The verification keys of the committed circuits (circuits/build/<name>/verification_key.json). */
export function loadVerificationKeys(): Record<CircuitName, Record<string, unknown>> {
  const keys = {} as Record<CircuitName, Record<string, unknown>>;
  for (const name of CIRCUITS) keys[name] = JSON.parse(readFileSync(circuitArtifacts(name).verificationKey, 'utf8')) as Record<string, unknown>;
  return keys;
}

const dec = (n: bigint): string => n.toString(10);
const reject = (slug: string, detail: string) => unprocessable(slug, detail);

/**
 * Off-chain verification for relying parties, with the checks the gate contracts make on chain:
 *
 *   1. shape: a Groth16 proof of decimal coordinates; the circuit's number of public signals,
 *      each a canonical field element (a value >= p would alias another signal);
 *   2. expectations: the relying party's challenge (binds the proof to this request: it cannot be
 *      replayed to another verifier), and its policy (threshold, minimum age, scope, denylist,
 *      date); a client-side prover chooses every public input, so each one is checked here;
 *   3. the root is a current or recently superseded root of the service's tree;
 *   4. the pairing check against the committed verification key;
 *   5. eligibility: the nullifier is consumed for its scope by inserting the (scope, nullifier)
 *      row, unique, in the transaction that appends the audit event: of concurrent verifications
 *      of one proof exactly one commits, the others see the row and are refused.
 */
@Injectable()
export class VerificationService implements OnApplicationShutdown {
  readonly keys = loadVerificationKeys();

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly roots: RootHistoryService,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // snarkjs keeps its curve's worker threads alive in this process until terminated.
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128?.terminate();
  }

  verificationKey(circuit: CircuitName): Record<string, unknown> {
    return this.keys[circuit];
  }

  async verify(req: VerifyRequestDto, verifier: string | null): Promise<VerifyResultDto> {
    let proof: snarkjs.Groth16Proof;
    try {
      proof = parseGroth16Proof(req.proof);
    } catch (e) {
      if (e instanceof MalformedProofError) throw reject('malformed-proof', `malformed proof: ${e.message}`);
      throw e;
    }
    const challenge = this.expectedField(req.expect.challenge, 'challenge');
    const result =
      req.circuit === 'balance'
        ? await this.checkBalance(this.signals(() => parseBalanceSignals(req.publicSignals as string[])), req.expect, challenge)
        : await this.checkEligibility(this.signals(() => parseEligibilitySignals(req.publicSignals as string[])), req.expect, challenge);
    const publicSignals = (req.publicSignals as string[]).map(String);
    const valid = await snarkjs.groth16.verify(this.keys[req.circuit], publicSignals, proof);
    if (!valid) throw reject('invalid-proof', 'invalid proof: the pairing check failed for these public signals');

    await this.ds.transaction(async (m) => {
      if (req.circuit === 'eligibility') {
        const rows: unknown[] = await m.query(
          `INSERT INTO zk_nullifier (scope, nullifier, circuit, verifier) VALUES ($1, $2, $3, $4)
           ON CONFLICT (scope, nullifier) DO NOTHING RETURNING nullifier`,
          [result.scope, result.nullifier, req.circuit, verifier],
        );
        if (rows.length === 0) throw conflict('nullifier already used for this scope', { reason: 'nullifier-used' });
      }
      const { valid: _valid, ...signals } = result;
      await this.audit.append({ type: 'zk.proof.verified', actor: verifier ?? 'public', subject: req.circuit, body: signals }, m);
    });
    return result;
  }

  private async checkBalance(s: BalancePublicSignals, expect: VerifyExpectDto, challenge: bigint): Promise<VerifyResultDto> {
    if (s.challenge !== challenge) throw reject('challenge-mismatch', 'challenge mismatch: the proof was made for another challenge');
    if (s.threshold > MAX_UINT64) throw reject('policy-mismatch', 'policy mismatch: the threshold is not a 64-bit unsigned integer');
    if (expect.threshold !== undefined) {
      const wanted = BigInt(expect.threshold);
      if (wanted > MAX_UINT64) throw reject('policy-mismatch', 'policy mismatch: the expected threshold exceeds 2^64-1');
      if (s.threshold < wanted) throw reject('policy-mismatch', 'policy mismatch: the proven threshold is below the expected threshold');
    }
    for (const name of ['minAge', 'scope', 'denylist', 'currentDate'] as const) {
      if (expect[name] !== undefined) throw reject('policy-mismatch', `policy mismatch: ${name} is not a balance proof expectation`);
    }
    await this.checkRoot('balance', s.root);
    return { valid: true, circuit: 'balance', root: dec(s.root), threshold: dec(s.threshold), challenge: dec(s.challenge) };
  }

  private async checkEligibility(s: EligibilityPublicSignals, expect: VerifyExpectDto, challenge: bigint): Promise<VerifyResultDto> {
    if (s.challenge !== challenge) throw reject('challenge-mismatch', 'challenge mismatch: the proof was made for another challenge');
    if (expect.threshold !== undefined) throw reject('policy-mismatch', 'policy mismatch: threshold is not an eligibility proof expectation');
    if (expect.scope !== undefined && s.scope !== this.expectedField(expect.scope, 'scope')) {
      throw reject('policy-mismatch', 'policy mismatch: the proof is for another scope');
    }
    if (expect.minAge !== undefined && s.minAge < BigInt(expect.minAge)) {
      throw reject('policy-mismatch', 'policy mismatch: the proven minimum age is below the expected minimum age');
    }
    if (expect.denylist !== undefined) {
      const proven = new Set(s.denylist.map(dec));
      if (!expect.denylist.every((j) => proven.has(String(j)))) {
        throw reject('policy-mismatch', 'policy mismatch: the proof\'s denylist does not hold every expected jurisdiction');
      }
    }
    // A prover picks currentDate: a date in the future would make a minor "old enough". Without
    // an expected date, accept today or yesterday (UTC), as the gate contract does.
    const now = new Date();
    const dates = expect.currentDate !== undefined ? [expect.currentDate] : [yyyymmdd(now), yyyymmdd(new Date(now.getTime() - 86_400_000))];
    if (!dates.some((d) => BigInt(d) === s.currentDate)) {
      throw reject('policy-mismatch', `policy mismatch: the proof's currentDate is not ${expect.currentDate !== undefined ? 'the expected date' : 'today or yesterday (UTC)'}`);
    }
    await this.checkRoot('identity', s.root);
    return {
      valid: true,
      circuit: 'eligibility',
      root: dec(s.root),
      nullifier: dec(s.nullifier),
      currentDate: dec(s.currentDate),
      minAge: dec(s.minAge),
      denylist: s.denylist.map(dec),
      scope: dec(s.scope),
      challenge: dec(s.challenge),
    };
  }

  private async checkRoot(tree: 'identity' | 'balance', root: bigint): Promise<void> {
    const c = await this.roots.check(tree, root);
    const valid = c.known && (c.current || (c.validUntil !== null && c.validUntil.getTime() > Date.now()));
    if (!valid) throw reject('unknown-root', `unknown or expired root: not a current or recent root of the ${tree} tree`);
  }

  private signals<T>(parse: () => T): T {
    try {
      return parse();
    } catch (e) {
      if (e instanceof CircuitInputError) {
        if (e.field === 'publicSignals') throw reject('invalid-public-signal', `wrong public signals: ${e.message}`);
        throw reject('invalid-public-signal', `signal not a canonical field element: ${e.message}`);
      }
      throw e;
    }
  }

  private expectedField(value: string, name: string): bigint {
    try {
      return toField(value, `expect.${name}`);
    } catch {
      throw reject('policy-mismatch', `expect.${name} is not a canonical field element`);
    }
  }
}
