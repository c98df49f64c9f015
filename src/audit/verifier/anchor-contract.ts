/**
 * Reads the audit anchor contract (contracts/audit/AuditAnchor.sol) straight from a ledger node:
 * which root is anchored for a tree size, and the latest anchored checkpoint. Only two view
 * functions are needed, so the ABI is written out here instead of loading the build artifacts.
 */
import { Contract, FetchRequest, JsonRpcProvider, Network, getBytes } from 'ethers';

const ANCHOR_ABI = [
  'function rootAt(uint64 treeSize) view returns (bytes32 rootHash)',
  'function latest() view returns (uint64 treeSize, bytes32 rootHash)',
];

const TIMEOUT_MS = 15_000;

/** The ledger could not be read, or the address holds no usable contract. */
export class AnchorReadError extends Error {
  override name = 'AnchorReadError';
}

export class AnchorContract {
  private constructor(
    private readonly provider: JsonRpcProvider,
    private readonly contract: Contract,
    readonly chainId: number,
    readonly address: string,
  ) {}

  /** Connects to `rpcUrl` and checks that `address` holds code. */
  static async connect(rpcUrl: string, address: string): Promise<AnchorContract> {
    // The chain id is read first, by hand: ethers' own network detection retries forever (and
    // prints to the console) while the node is unreachable.
    const endpoint = new URL(rpcUrl).origin;
    const chainId = await rpcChainId(rpcUrl, endpoint);
    const request = new FetchRequest(rpcUrl);
    request.timeout = TIMEOUT_MS;
    const provider = new JsonRpcProvider(request, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1 });
    try {
      const code = await provider.getCode(address);
      if (code === '0x') throw new AnchorReadError(`there is no contract at ${address} on chain ${chainId}`);
      return new AnchorContract(provider, new Contract(address, ANCHOR_ABI, provider), chainId, address);
    } catch (error) {
      provider.destroy();
      throw error instanceof AnchorReadError ? error : new AnchorReadError(`cannot read the ledger at ${endpoint}: ${ethersReason(error)}`);
    }
  }

  /** The root anchored for `treeSize`, or null when that size was never anchored. */
  async rootAt(treeSize: number): Promise<Uint8Array | null> {
    const root = await this.#call<string>('rootAt', treeSize);
    return nonZero(root);
  }

  /** The largest anchored tree size and its root (size 0 and root null when nothing is anchored). */
  async latest(): Promise<{ treeSize: number; root: Uint8Array | null }> {
    const [treeSize, root] = await this.#call<[bigint, string]>('latest');
    return { treeSize: Number(treeSize), root: nonZero(root) };
  }

  close(): void {
    this.provider.destroy();
  }

  async #call<T>(method: string, ...args: unknown[]): Promise<T> {
    try {
      return (await this.contract.getFunction(method).staticCall(...args)) as T;
    } catch (error) {
      throw new AnchorReadError(`the contract at ${this.address} did not answer ${method}() as an audit anchor does: ${ethersReason(error)}`);
    }
  }
}

function nonZero(hex: string): Uint8Array | null {
  const bytes = getBytes(hex);
  return bytes.some((b) => b !== 0) ? bytes : null;
}

/** ethers errors carry a one-line shortMessage and a long message with the whole request. */
function ethersReason(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string };
  return (e.shortMessage ?? e.message ?? String(error)).split('\n')[0]!;
}

async function rpcChainId(rpcUrl: string, endpoint: string): Promise<number> {
  let res: Response;
  try {
    res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const err = error as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError') throw new AnchorReadError(`the ledger node at ${endpoint} did not answer within ${TIMEOUT_MS / 1000} s`);
    throw new AnchorReadError(`cannot reach the ledger node at ${endpoint} (${err.cause?.code ?? err.cause?.message ?? err.message})`);
  }
  let body: { result?: unknown; error?: { message?: string } } | undefined;
  try {
    body = (await res.json()) as typeof body;
  } catch {
    body = undefined;
  }
  if (typeof body?.result !== 'string' || !/^0x[0-9a-fA-F]+$/.test(body.result)) {
    const why = body?.error?.message ?? `HTTP ${res.status}`;
    throw new AnchorReadError(`the ledger node at ${endpoint} did not give its chain id (${why})`);
  }
  return Number(BigInt(body.result));
}
