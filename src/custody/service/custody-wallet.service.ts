import { Inject, Injectable } from '@nestjs/common';
import { keccak256, toUtf8Bytes, type Log } from 'ethers';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { ProblemError, unprocessable } from '../../common/problem.js';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { HsmService } from '../../hsm/hsm.service.js';
import { LedgerService } from '../../ledger/ledger.service.js';
import { groupKeyForContract } from '../frost/index.js';
import { NodeFailure, QuorumError, SignerCoordinator, type SignerNodeRef } from '../coordinator/signer-coordinator.js';

/** HSM label of the coordinator's P-256 key, whose public key the signer nodes are configured with. */
export const COORDINATOR_KEY_LABEL = 'custody-coordinator';
const FACTORY = 'CustodyWalletFactory';

export interface CustodyWalletView {
  id: string;
  address: string;
  groupKey: string;
  threshold: number;
  nodes: string[];
  createdAt: string;
}

const unavailable = (detail: string) => new ProblemError(503, 'custody-signers-unavailable', 'Signer nodes unavailable', detail);

/**
 * Wallet creation: a distributed key generation across the configured signer nodes (no share ever
 * leaves a node), then a CustodyWallet for the group key deployed through the CustodyWalletFactory
 * (deployed once per chain), then the wallet row and its audit event.
 */
@Injectable()
export class CustodyWalletService {
  #coordinator: Promise<SignerCoordinator> | undefined;
  #nodes: Promise<SignerNodeRef[]> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly hsm: HsmService,
    private readonly ledger: LedgerService,
  ) {}

  /** The coordinator, signing its messages to the nodes with the HSM key. */
  coordinator(): Promise<SignerCoordinator> {
    this.#coordinator ??= this.hsm.ensureEcKeyPair(COORDINATOR_KEY_LABEL, 'P-256').then(
      ({ publicKey }) => new SignerCoordinator({ publicKey, signDigest: (d) => this.hsm.signEcdsaDigest(COORDINATOR_KEY_LABEL, d) }),
    );
    return this.#coordinator;
  }

  /** The configured nodes, each named by its own GET /identity. */
  nodes(): Promise<SignerNodeRef[]> {
    const urls = (this.config.CUSTODY_SIGNER_URLS ?? '').split(',').map((u) => u.trim()).filter(Boolean);
    if (urls.length === 0) return Promise.reject(unavailable('no signer nodes are configured'));
    this.#nodes ??= Promise.all(
      urls.map(async (url) => {
        try {
          const res = await fetch(new URL('/identity', url), { signal: AbortSignal.timeout(10_000) });
          const body = (await res.json()) as { nodeId?: unknown };
          if (typeof body.nodeId !== 'string') throw new Error('no node id');
          return { id: body.nodeId, url };
        } catch {
          throw unavailable(`signer node ${new URL(url).origin} did not answer GET /identity`);
        }
      }),
    ).catch((e) => {
      this.#nodes = undefined;
      throw e;
    });
    return this.#nodes;
  }

  async create(actor: AuthenticatedPrincipal, threshold: number, nodeIds?: string[]): Promise<CustodyWalletView> {
    const all = await this.nodes();
    const chosen = nodeIds ? all.filter((n) => nodeIds.includes(n.id)) : all;
    if (nodeIds && chosen.length !== new Set(nodeIds).size) {
      throw unprocessable('custody-unknown-node', `unknown signer nodes: ${nodeIds.filter((id) => !all.some((n) => n.id === id)).join(', ')}`);
    }
    if (threshold < 2 || threshold > chosen.length) {
      throw unprocessable('custody-invalid-threshold', `threshold must be from 2 to the ${chosen.length} nodes`);
    }
    const coordinator = await this.coordinator();
    const [{ id }] = await this.ds.query(`SELECT gen_random_uuid() AS id`);
    const walletId = String(id);
    let dkg;
    try {
      dkg = await coordinator.runDkg(chosen, threshold, walletId);
    } catch (e) {
      if (e instanceof QuorumError || e instanceof NodeFailure) throw unavailable(`key generation failed: ${e.message}`);
      throw e;
    }
    const groupKey = dkg.groupPublicKey.toLowerCase();
    const key = groupKeyForContract(groupKey);
    const factory = (await this.ledger.deploy(FACTORY)).contract;
    const salt = keccak256(toUtf8Bytes(walletId));
    const tx = await factory.getFunction('deploy')([key.x, key.parity], salt);
    const receipt = await tx.wait();
    const deployed = (receipt?.logs as Log[] | undefined)
      ?.map((l) => {
        try {
          return factory.interface.parseLog(l);
        } catch {
          return null;
        }
      })
      .find((p) => p?.name === 'WalletDeployed');
    if (!deployed) throw new Error(`the factory deployed no wallet for ${walletId}`);
    const address = String(deployed.args[0]).toLowerCase();
    const nodes = chosen.map((n) => n.id);
    return this.ds.transaction(async (m) => {
      const [row] = await m.query(
        `INSERT INTO custody_wallet (id, address, group_key, threshold, node_ids, public_package) VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
        [walletId, address, groupKey, threshold, JSON.stringify(nodes), JSON.stringify(dkg.public)],
      );
      await this.audit.append(
        {
          type: 'custody.wallet.created',
          actor: actor.name,
          subject: `custody-wallet:${walletId}`,
          body: { walletId, address, groupKey, threshold, nodes, verifyingShares: dkg.verifyingShares, txHash: receipt!.hash },
        },
        m,
      );
      return { id: walletId, address, groupKey, threshold, nodes, createdAt: new Date(row.created_at).toISOString() };
    });
  }
}
