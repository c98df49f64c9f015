/**
 * A small client for the service's public audit API: it only fetches. Nothing it returns is
 * trusted; every answer goes through the checks of ../crypto before the verifier believes it.
 */
import { isObject } from './options.js';

/** The service could not be reached or did not answer as expected. */
export class AuditApiError extends Error {
  override name = 'AuditApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ServedPublicKey {
  readonly pem: string;
  readonly keyId?: unknown;
  readonly origin?: unknown;
}

const TIMEOUT_MS = 15_000;

export class AuditApi {
  readonly #base: URL;
  readonly #apiKey: string | undefined;

  constructor(base: URL, apiKey?: string) {
    // Resolve paths below the base even when it has a path prefix (https://host/privacy/).
    this.#base = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
    this.#apiKey = apiKey;
  }

  /** GET /audit/public-key */
  async publicKey(): Promise<ServedPublicKey> {
    const body = await this.#get('audit/public-key');
    if (typeof body.pem !== 'string') throw new AuditApiError('the service answered GET /audit/public-key without a PEM key');
    return body as unknown as ServedPublicKey;
  }

  /** GET /audit/checkpoints/latest */
  latestCheckpoint(): Promise<Record<string, unknown>> {
    return this.#get('audit/checkpoints/latest');
  }

  /** GET /audit/checkpoints/:size, or null when the service has no checkpoint of that size. */
  async checkpoint(size: number): Promise<Record<string, unknown> | null> {
    try {
      return await this.#get(`audit/checkpoints/${size}`);
    } catch (error) {
      if (error instanceof AuditApiError && error.status === 404) return null;
      throw error;
    }
  }

  /** GET /audit/proofs/inclusion?seq=|leafHash=&treeSize= */
  inclusionProof(event: { seq: number } | { leafHash: string }, treeSize: number): Promise<Record<string, unknown>> {
    const query = 'seq' in event ? `seq=${event.seq}` : `leafHash=${event.leafHash}`;
    return this.#get(`audit/proofs/inclusion?${query}&treeSize=${treeSize}`);
  }

  /** GET /audit/proofs/consistency?from=&to= */
  consistencyProof(from: number, to: number): Promise<Record<string, unknown>> {
    return this.#get(`audit/proofs/consistency?from=${from}&to=${to}`);
  }

  /** GET /audit/anchor-contract */
  async anchorContract(): Promise<{ chainId: number; address: string }> {
    const body = await this.#get('audit/anchor-contract');
    if (typeof body.address !== 'string' || typeof body.chainId !== 'number') {
      throw new AuditApiError('the service answered GET /audit/anchor-contract without a chain id and address');
    }
    return { chainId: body.chainId, address: body.address };
  }

  /** GET /audit/events/:seq, with the API key. */
  event(seq: number): Promise<Record<string, unknown>> {
    if (!this.#apiKey) throw new AuditApiError(`fetching event ${seq} needs an API key (--api-key or AUDIT_API_KEY)`);
    return this.#get(`audit/events/${seq}`, true);
  }

  async #get(path: string, withKey = false): Promise<Record<string, unknown>> {
    const url = new URL(path, this.#base);
    const what = `GET /${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (withKey) headers.authorization = `Bearer ${this.#apiKey}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      const err = error as Error & { cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError') throw new AuditApiError(`the service at ${this.#base.origin} did not answer ${what} within ${TIMEOUT_MS / 1000} s`);
      throw new AuditApiError(`cannot reach the service at ${this.#base.origin} (${err.cause?.code ?? err.cause?.message ?? err.message})`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      // Problem details (RFC 9457) carry the reason in "detail".
      const detail = isObject(body) && typeof body.detail === 'string' ? `: ${body.detail}` : '';
      throw new AuditApiError(`the service answered ${what} with ${res.status} ${res.statusText}${detail}`, res.status);
    }
    if (!isObject(body)) throw new AuditApiError(`the service answered ${what} with something that is not a JSON object`);
    return body;
  }
}
