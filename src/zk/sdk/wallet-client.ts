/**
 * The wallet side of the zk service, for wallets that prove on their own device: fetch the
 * leaf data and authentication path the service keeps for the wallet's identity or account
 * (with the wallet app's API key), then prove with snarkjs in the wallet's own process from the
 * published circuit artifacts. The secret never leaves the wallet. The result is the same
 * { proof, publicSignals } the service's proof API returns, verifiable by POST /zk/verify, the
 * snarkjs CLI or the gate contracts.
 *
 * A plain module: no NestJS, no database; it needs only fetch (Node 18+ or a browser) and snarkjs.
 */
import * as snarkjs from 'snarkjs';
import {
  balanceInput,
  balanceStatementErrors,
  eligibilityInput,
  eligibilityStatementErrors,
  yyyymmdd,
  type FieldInput,
} from '../circuit-inputs.js';

/** A circuit's published proving artifacts: file paths (Node) or their bytes (browser). */
export interface ProvingArtifacts {
  wasm: string | Uint8Array;
  zkey: string | Uint8Array;
}

/** A Groth16 proof and its public signals, as snarkjs and the service produce them. */
export interface WalletProof {
  proof: snarkjs.Groth16Proof;
  publicSignals: string[];
}

/** GET /zk/identities/:id/path. */
export interface IdentityPathResponse {
  leafIndex: number;
  leaf: string;
  pathElements: string[];
  pathIndices: number[];
  root: string;
}

/** GET /zk/accounts/:id/path. */
export interface AccountPathResponse extends IdentityPathResponse {
  epoch: number;
  balance: string;
  salt: string;
}

/** The service refused a request: status and problem details (RFC 9457). */
export class ZkServiceError extends Error {
  override readonly name = 'ZkServiceError';
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; type?: string } | null,
  ) {
    super(`zk service answered ${status}${problem?.detail ? `: ${problem.detail}` : ''}`);
  }
}

/** A statement that is false for the wallet's data: no proof exists. Reasons name conditions, never values. */
export class StatementError extends Error {
  override readonly name = 'StatementError';
  constructor(readonly reasons: string[]) {
    super(`no proof exists: ${reasons.join('; ')}`);
  }
}

export interface WalletClientOptions {
  /** The service's base URL, e.g. https://privacy.bank.example */
  baseUrl: string;
  /** The wallet app's API key (psk_...). */
  apiKey: string;
  fetch?: typeof fetch;
}

/** Reads the wallet's paths from the service. */
export class WalletClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: WalletClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
  }

  /** The identity's leaf and path to the current identity root (the wallet's own identities only). */
  fetchIdentityPath(identityId: string): Promise<IdentityPathResponse> {
    return this.get(`/zk/identities/${encodeURIComponent(identityId)}/path`);
  }

  /** The account's leaf data (balance, salt) and path in an epoch (default: the latest). */
  fetchAccountPath(accountId: string, epoch?: number): Promise<AccountPathResponse> {
    const query = epoch === undefined ? '' : `?epoch=${encodeURIComponent(String(epoch))}`;
    return this.get(`/zk/accounts/${encodeURIComponent(accountId)}/path${query}`);
  }

  /** The circuit's verification key as the service publishes it. */
  fetchVerificationKey(circuit: 'balance' | 'eligibility'): Promise<Record<string, unknown>> {
    return this.get(`/zk/circuits/${circuit}/verification-key`);
  }

  private async get<T>(route: string): Promise<T> {
    const res = await this.fetchFn(`${this.baseUrl}${route}`, { headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json' } });
    if (!res.ok) {
      const problem = (await res.json().catch(() => null)) as ZkServiceError['problem'];
      throw new ZkServiceError(res.status, problem);
    }
    return (await res.json()) as T;
  }
}

export interface ProveBalanceParams {
  path: AccountPathResponse;
  accountSecret: FieldInput;
  threshold: FieldInput;
  challenge: FieldInput;
  artifacts: ProvingArtifacts;
}

/**
 * Proves "the account behind this proof held >= threshold in the path's epoch", bound to the
 * relying party's challenge. Public signals: [root, threshold, challenge].
 */
export async function proveBalance(p: ProveBalanceParams): Promise<WalletProof> {
  const witness = {
    accountSecret: p.accountSecret,
    balance: p.path.balance,
    salt: p.path.salt,
    pathElements: p.path.pathElements,
    pathIndices: p.path.pathIndices,
    root: p.path.root,
    threshold: p.threshold,
    challenge: p.challenge,
  };
  const input = balanceInput(witness);
  const errors = await balanceStatementErrors(witness);
  if (errors.length > 0) throw new StatementError(errors);
  return fullProve(input, p.artifacts);
}

export interface ProveEligibilityParams {
  path: IdentityPathResponse;
  identitySecret: FieldInput;
  /** As enrolled (the bank's attestation): YYYYMMDD. */
  birthDate: number;
  /** As enrolled: ISO 3166-1 numeric. */
  jurisdiction: number;
  /** YYYYMMDD; default today (UTC). Verifiers accept today or yesterday unless they ask for a date. */
  currentDate?: number;
  minAge: number;
  denylist: readonly number[];
  scope: FieldInput;
  challenge: FieldInput;
  artifacts: ProvingArtifacts;
}

/**
 * Proves "this identity is enrolled, at least minAge on currentDate and not in the denylist",
 * with the nullifier Poseidon(identitySecret, scope): a verifier accepts one proof per identity
 * and scope. Public signals: [nullifier, root, currentDate, minAge, denylist[0..7], scope, challenge].
 */
export async function proveEligibility(p: ProveEligibilityParams): Promise<WalletProof> {
  const witness = {
    identitySecret: p.identitySecret,
    birthDate: p.birthDate,
    jurisdiction: p.jurisdiction,
    pathElements: p.path.pathElements,
    pathIndices: p.path.pathIndices,
    root: p.path.root,
    currentDate: p.currentDate ?? yyyymmdd(new Date()),
    minAge: p.minAge,
    denylist: p.denylist,
    scope: p.scope,
    challenge: p.challenge,
  };
  const input = eligibilityInput(witness);
  const errors = await eligibilityStatementErrors(witness);
  if (errors.length > 0) throw new StatementError(errors);
  return fullProve(input, p.artifacts);
}

async function fullProve(input: Record<string, unknown>, artifacts: ProvingArtifacts): Promise<WalletProof> {
  const file = (a: string | Uint8Array) => (typeof a === 'string' ? a : { type: 'mem' as const, data: a });
  const { proof, publicSignals } = await snarkjs.groth16.fullProve(
    input as snarkjs.CircuitSignals,
    file(artifacts.wasm) as snarkjs.ZKArtifact,
    file(artifacts.zkey) as snarkjs.ZKArtifact,
  );
  return { proof, publicSignals: publicSignals.map(String) };
}
