/**
 * The service's connection to an EVM ledger (any JSON-RPC node: Hardhat locally, Besu/Geth in
 * production): its account, contract deployment and lookup.
 *
 * Deployments are idempotent and recorded in `deployed_contract`, one row per (chain id, key):
 * deploying a key again returns the recorded contract as long as the chain still holds its code,
 * and deploys afresh when it does not (a development chain that was restarted from genesis).
 */
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Inject, Injectable, Logger, Optional, type OnModuleDestroy } from '@nestjs/common';
import { Contract, ContractFactory, FetchRequest, JsonRpcProvider, Network, Wallet, keccak256, type Signer } from 'ethers';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { readContractArtifact, type ContractArtifact } from './artifacts.js';
import { DeployedContract } from './deployed-contract.entity.js';
import { SerialSigner } from './serial-signer.js';

/** Optional settings; provide them under LEDGER_OPTIONS. */
export interface LedgerOptions {
  /** Folder written by `hardhat build` (default: artifacts/ in the current directory). */
  artifactsDir?: string;
  /** Budget of a health probe (default 2 s). */
  healthTimeoutMs?: number;
  /** Budget of any other JSON-RPC request (default 30 s). */
  requestTimeoutMs?: number;
}
export const LEDGER_OPTIONS = Symbol('LEDGER_OPTIONS');

export interface LedgerHealth {
  status: 'ok' | 'down';
  chainId: number | null;
  blockNumber: number | null;
  detail?: string;
}

export interface DeployOptions {
  /** Name the deployment is recorded under (default: the contract name). */
  key?: string;
}

export interface Deployment {
  key: string;
  chainId: number;
  address: string;
  txHash: string;
  blockNumber: number;
  /** Connected to the service's account. */
  contract: Contract;
  /** True when an already deployed contract was returned instead of deploying again. */
  reused: boolean;
}

/** The ledger could not be reached or did something the service cannot work with. */
export class LedgerError extends Error {
  override name = 'LedgerError';
}

/** Chains of local development nodes, whose unlocked accounts may stand in for LEDGER_PRIVATE_KEY. */
const DEVELOPMENT_CHAIN_IDS = new Set([31337, 1337]);
const UNIQUE_VIOLATION = '23505';
/** Socket errors of a reused connection that the server had already closed (fetch / undici codes). */
const STALE_CONNECTION_ERRORS = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

interface Connection {
  chainId: number;
  provider: JsonRpcProvider;
  signer: SerialSigner;
}

@Injectable()
export class LedgerService implements OnModuleDestroy {
  readonly #log = new Logger('LedgerService');
  readonly #url: string;
  /** The endpoint without credentials or path (API keys often sit there), for messages. */
  readonly #endpoint: string;
  readonly #privateKey: string | undefined;
  readonly #artifactsDir: string;
  readonly #healthTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  #connection: Promise<Connection> | undefined;
  #connectionChainId: number | undefined;
  readonly #keyLocks = new Map<string, Promise<unknown>>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Optional() @Inject(LEDGER_OPTIONS) options: LedgerOptions | null = null,
  ) {
    this.#url = config.LEDGER_RPC_URL;
    this.#endpoint = new URL(config.LEDGER_RPC_URL).origin;
    this.#privateKey = config.LEDGER_PRIVATE_KEY;
    this.#artifactsDir = path.resolve(options?.artifactsDir ?? 'artifacts');
    this.#healthTimeoutMs = options?.healthTimeoutMs ?? 2000;
    this.#requestTimeoutMs = options?.requestTimeoutMs ?? 30_000;
  }

  /** Chain id reported by the node. */
  async chainId(): Promise<number> {
    return Number(BigInt(await this.#rpc<string>('eth_chainId', this.#requestTimeoutMs)));
  }

  /** Reachability, chain id and head block; answers within the health budget and never throws. */
  async health(): Promise<LedgerHealth> {
    try {
      const [chainId, blockNumber] = await Promise.all([
        this.#rpc<string>('eth_chainId', this.#healthTimeoutMs),
        this.#rpc<string>('eth_blockNumber', this.#healthTimeoutMs),
      ]);
      return { status: 'ok', chainId: Number(BigInt(chainId)), blockNumber: Number(BigInt(blockNumber)) };
    } catch (e) {
      return { status: 'down', chainId: null, blockNumber: null, detail: (e as Error).message };
    }
  }

  /** The service's account, with sends queued so concurrent callers never collide on nonces. */
  async signer(): Promise<Signer> {
    return (await this.#connect()).signer;
  }

  /** Address of the service's account. */
  async address(): Promise<string> {
    return (await this.signer()).getAddress();
  }

  /** Compiled contract by name ('AuditAnchor') or fully qualified name ('contracts/audit/AuditAnchor.sol:AuditAnchor'). */
  loadArtifact(contractName: string): Promise<ContractArtifact> {
    return readContractArtifact(this.#artifactsDir, contractName);
  }

  /**
   * Deploy `contractName` with constructor `args` unless it is already deployed under the same key
   * on this chain. Safe to call at every start-up, from several instances sharing one database.
   */
  async deploy(contractName: string, args: readonly unknown[] = [], options: DeployOptions = {}): Promise<Deployment> {
    const key = options.key ?? contractName;
    return this.#exclusive(key, async () => {
      const { chainId, provider, signer } = await this.#connect();
      const deployments = this.dataSource.getRepository(DeployedContract);

      const recorded = await deployments.findOneBy({ chainId, key });
      if (recorded && recorded.name !== contractName) {
        throw new LedgerError(`key ${key} on chain ${chainId} already holds contract ${recorded.name}, not ${contractName}; use another key`);
      }
      const artifact = await this.loadArtifact(contractName);
      if (Object.keys(artifact.linkReferences ?? {}).length > 0) {
        throw new LedgerError(`contract ${contractName} needs linked libraries, which deploy() does not support`);
      }
      if (artifact.bytecode === '0x') throw new LedgerError(`contract ${contractName} is abstract or an interface`);
      if (recorded && (await this.#isLive(provider, recorded))) {
        return this.#deployment(recorded, artifact, signer, true);
      }
      if (recorded) {
        this.#log.warn(`${key} is recorded at ${recorded.address} on chain ${chainId} but the chain no longer holds it; deploying again`);
      }

      const created = await this.#send(contractName, artifact, args, signer, provider);
      const row = { name: contractName, key, chainId, ...created, deployedAt: new Date() };

      if (recorded) {
        // Replace the stale row only if nobody replaced it meanwhile (another instance after the same reset).
        const result = await deployments.update({ id: recorded.id, address: recorded.address }, row);
        if (result.affected === 0) return this.#adoptWinner(chainId, key, artifact, signer, provider);
        this.#log.log(`${key} redeployed at ${created.address} on chain ${chainId}`);
        return this.#deployment({ ...recorded, ...row }, artifact, signer, false);
      }
      try {
        const saved = await deployments.save(deployments.create(row));
        this.#log.log(`${key} deployed at ${created.address} on chain ${chainId}`);
        return this.#deployment(saved, artifact, signer, false);
      } catch (e) {
        // Another instance deployed the same key first: use its contract, ours stays unused.
        if (isUniqueViolation(e)) return this.#adoptWinner(chainId, key, artifact, signer, provider);
        throw e;
      }
    });
  }

  /** The contract deployed under `key` on the node's chain, connected to the service's account. */
  async getContract(key: string): Promise<Contract> {
    const { chainId, provider, signer } = await this.#connect();
    const recorded = await this.dataSource.getRepository(DeployedContract).findOneBy({ chainId, key });
    if (!recorded) throw new LedgerError(`no contract is deployed under key ${key} on chain ${chainId}; deploy it first`);
    if (!(await this.#isLive(provider, recorded))) {
      throw new LedgerError(
        `contract ${key} is recorded at ${recorded.address} on chain ${chainId}, but that code is no longer on the chain (was it reset?); deploy it again`,
      );
    }
    const artifact = await this.loadArtifact(recorded.name);
    return new Contract(recorded.address, artifact.abi, signer);
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /** Release the JSON-RPC provider (timers, sockets). */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = this.#connectionChainId = undefined;
    if (connection) (await connection.catch(() => undefined))?.provider.destroy();
  }

  // ------------------------------------------------------------------ internals

  /**
   * Provider and account for the node's current chain. The provider is told the chain id up front
   * (static network): ethers' own detection retries forever, printing to the console, while the
   * node is down. If the node now reports another chain id, a new provider is built.
   */
  #connect(): Promise<Connection> {
    return this.chainId().then((chainId) => {
      // No await between the check and the assignment: concurrent callers share one connection,
      // hence one transaction queue.
      if (this.#connection === undefined || this.#connectionChainId !== chainId) {
        const previous = this.#connection;
        const connecting = this.#open(chainId);
        this.#connection = connecting;
        this.#connectionChainId = chainId;
        connecting.catch(() => {
          if (this.#connection === connecting) this.#connection = this.#connectionChainId = undefined;
        });
        previous?.then((c) => c.provider.destroy(), () => undefined);
      }
      return this.#connection;
    });
  }

  async #open(chainId: number): Promise<Connection> {
    const request = new FetchRequest(this.#url);
    request.timeout = this.#requestTimeoutMs;
    // A fresh connection per request: a pooled keep-alive socket that the node closed while this
    // process was busy fails the next request with ECONNRESET, and ethers does not retry sends.
    const agent = request.url.startsWith('https:') ? new https.Agent({ keepAlive: false }) : new http.Agent({ keepAlive: false });
    request.getUrlFunc = FetchRequest.createGetUrlFunc({ agent });
    const provider = new JsonRpcProvider(request, Network.from(chainId), {
      staticNetwork: true,
      // ethers answers identical calls made within 250 ms from a cache by default: the pending
      // nonce read right after a send, or the code read right after a deployment, would be stale.
      cacheTimeout: -1,
      pollingInterval: 1000,
    });
    try {
      let account: Signer;
      if (this.#privateKey) {
        account = new Wallet(this.#privateKey, provider);
      } else {
        if (!DEVELOPMENT_CHAIN_IDS.has(chainId)) {
          throw new LedgerError(`LEDGER_PRIVATE_KEY is not set; the node's unlocked accounts are only used on a local development chain, not chain ${chainId}`);
        }
        const accounts = await provider.send('eth_accounts', []);
        if (!Array.isArray(accounts) || accounts.length === 0) {
          throw new LedgerError(`LEDGER_PRIVATE_KEY is not set and the node at ${this.#endpoint} has no unlocked account`);
        }
        account = await provider.getSigner(0);
      }
      return { chainId, provider, signer: new SerialSigner(account) };
    } catch (e) {
      provider.destroy();
      throw e;
    }
  }

  async #send(
    contractName: string,
    artifact: ContractArtifact,
    args: readonly unknown[],
    signer: Signer,
    provider: JsonRpcProvider,
  ): Promise<Pick<DeployedContract, 'address' | 'txHash' | 'blockNumber' | 'bytecodeHash'>> {
    const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer);
    const contract = await factory.deploy(...args);
    const tx = contract.deploymentTransaction()!;
    const receipt = await tx.wait();
    if (!receipt || receipt.status !== 1) throw new LedgerError(`deployment of ${contractName} failed (tx ${tx.hash})`);
    const address = await contract.getAddress();
    const code = await provider.getCode(address);
    if (code === '0x') throw new LedgerError(`deployment of ${contractName} left no code at ${address} (tx ${tx.hash})`);
    return { address, txHash: tx.hash, blockNumber: receipt.blockNumber, bytecodeHash: keccak256(code) };
  }

  /** The recorded contract still exists: the chain holds the same runtime code at its address. */
  async #isLive(provider: JsonRpcProvider, recorded: DeployedContract): Promise<boolean> {
    const code = await provider.getCode(recorded.address);
    return code !== '0x' && keccak256(code) === recorded.bytecodeHash;
  }

  async #adoptWinner(
    chainId: number,
    key: string,
    artifact: ContractArtifact,
    signer: Signer,
    provider: JsonRpcProvider,
  ): Promise<Deployment> {
    const winner = await this.dataSource.getRepository(DeployedContract).findOneBy({ chainId, key });
    if (!winner || !(await this.#isLive(provider, winner))) {
      throw new LedgerError(`concurrent deployment of ${key} on chain ${chainId} did not settle; try again`);
    }
    return this.#deployment(winner, artifact, signer, true);
  }

  #deployment(row: DeployedContract, artifact: ContractArtifact, signer: Signer, reused: boolean): Deployment {
    return {
      key: row.key,
      chainId: row.chainId,
      address: row.address,
      txHash: row.txHash,
      blockNumber: row.blockNumber,
      contract: new Contract(row.address, artifact.abi, signer),
      reused,
    };
  }

  /** Run deployments of one key one after another within this process. */
  async #exclusive<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#keyLocks.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(task);
    const tail = run.catch(() => undefined);
    this.#keyLocks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#keyLocks.get(key) === tail) this.#keyLocks.delete(key);
    }
  }

  /**
   * One read-only JSON-RPC call with a hard time budget, independent of ethers (used for probes).
   * Retried once when a pooled keep-alive connection turns out to have been closed by the node.
   */
  async #rpc<T>(method: string, timeoutMs: number): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    let res: Response | undefined;
    for (let attempt = 1; !res; attempt++) {
      try {
        res = await fetch(this.#url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
          signal,
        });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        if (err.name === 'TimeoutError' || err.name === 'AbortError') {
          throw new LedgerError(`ledger node at ${this.#endpoint} did not answer ${method} within ${timeoutMs} ms`);
        }
        const reason = err.cause?.code ?? err.cause?.message ?? err.message;
        if (attempt === 1 && STALE_CONNECTION_ERRORS.has(reason)) continue;
        throw new LedgerError(`ledger node at ${this.#endpoint} is unreachable (${reason})`);
      }
    }
    let body: { result?: T; error?: { message?: string } };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new LedgerError(`ledger node at ${this.#endpoint} answered ${method} with HTTP ${res.status} and no JSON-RPC body`);
    }
    if (body.error) throw new LedgerError(`ledger node at ${this.#endpoint} rejected ${method}: ${body.error.message ?? 'unknown error'}`);
    if (body.result === undefined) throw new LedgerError(`ledger node at ${this.#endpoint} answered ${method} without a result`);
    return body.result;
  }
}

function isUniqueViolation(e: unknown): boolean {
  // TypeORM wraps the driver's error (QueryFailedError.driverError); SQLSTATE 23505 is unique_violation.
  const error = e as { code?: unknown; driverError?: { code?: unknown } } | null;
  return error?.driverError?.code === UNIQUE_VIOLATION || error?.code === UNIQUE_VIOLATION;
}
