/**
 * Drives share refresh and resharing across the signer nodes (docs/custody-maintenance.md) with a
 * two-phase commit:
 *
 *   stageShares   prepare (every new member draws a ceremony encryption key), deal (every reachable
 *                 old member, at least t of them, deals its weighted share, sub-shares encrypted to
 *                 each member), stage (every member verifies, seals and stores a STAGED version);
 *                 then the coordinator checks that all members agree on the new public package,
 *                 that the group key is unchanged and that the new verifying shares interpolate to it.
 *   commitShares  every member makes the staged version current (old sealed share deleted), every
 *                 node leaving the set deletes its share. Idempotent: retried until all acknowledge.
 *   abortShares   every member discards the staged version (idempotent).
 *
 * The caller persists the decision between the phases: once it has decided to commit it only ever
 * retries commitShares, before that it only ever aborts, so a wallet never ends with mixed versions.
 */
import { canonicalJson } from '../signer/message-auth.js';
import { identifierOf, type WirePublic } from '../signer/frost-adapter.js';
import { checkSharesInterpolate } from './share-interpolation.js';
import { NodeFailure, QuorumError, type SignerCoordinator, type SignerNodeRef } from './signer-coordinator.js';

export interface MaintenancePlan {
  walletId: string;
  /** Names the ceremony on the nodes (staged rows, AAD of the sub-shares). */
  ceremonyId: string;
  /** The wallet's current share version; the new one is fromVersion + 1. */
  fromVersion: number;
  /** The wallet's current public package (pinned at the wallet's creation or last maintenance). */
  oldPublic: WirePublic;
  oldNodes: SignerNodeRef[];
  newNodes: SignerNodeRef[];
  threshold: number;
  /** Dealers (old node ids); default: every old node that answers GET /health. */
  dealers?: string[];
}

export interface StagedShares {
  version: number;
  dealers: string[];
  groupPublicKey: string;
  public: WirePublic;
  /** New verifying share of each member, by node id. */
  verifyingShares: Record<string, string>;
}

export interface CommitResult {
  version: number;
  outcomes: Record<string, 'committed' | 'already-committed' | 'retired'>;
}

/** A reshare in which dealers sent sub-shares or commitments that do not verify: `culprits` names them. */
export class ReshareAbortedError extends QuorumError {
  constructor(message: string, failures: NodeFailure[], readonly culprits: string[]) {
    super(message, failures);
    this.name = 'ReshareAbortedError';
  }
}

const planBody = (plan: MaintenancePlan, dealers: string[]) => ({
  walletId: plan.walletId,
  ceremonyId: plan.ceremonyId,
  fromVersion: plan.fromVersion,
  version: plan.fromVersion + 1,
  threshold: plan.threshold,
  members: plan.newNodes.map((n) => n.id),
  dealers,
});

async function healthy(node: SignerNodeRef, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(new URL('/health', node.url), { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Phase one. Throws QuorumError (ReshareAbortedError when dealers cheated); the caller then aborts. */
export async function stageShares(coordinator: SignerCoordinator, plan: MaintenancePlan): Promise<StagedShares> {
  const t = plan.oldPublic.signers.min;
  if (plan.threshold < 2 || plan.threshold > plan.newNodes.length) throw new Error('threshold must be from 2 to the number of new nodes');
  let dealers = plan.dealers;
  if (dealers === undefined) {
    const up = await Promise.all(plan.oldNodes.map((n) => healthy(n, 5_000)));
    dealers = plan.oldNodes.filter((_, i) => up[i]).map((n) => n.id);
  }
  if (dealers.length < t) {
    const down = plan.oldNodes.filter((n) => !dealers!.includes(n.id)).map((n) => new NodeFailure(n.id, 'unavailable', 'not reachable to deal'));
    throw new QuorumError(`only ${dealers.length} of the ${t} old nodes needed to deal are reachable`, down);
  }
  const dealerRefs = dealers.map((id) => plan.oldNodes.find((n) => n.id === id)!);
  const body = planBody(plan, dealers);

  const prepared = await every(plan.newNodes, (n) =>
    coordinator.call<{ nodeId: string; encryptionKey: string }>(n, '/reshare/prepare', { ...body, oldPublic: plan.oldPublic }),
  );
  const recipients = prepared.map((p, i) => ({ nodeId: plan.newNodes[i]!.id, encryptionKey: p.encryptionKey }));
  const deals = await every(dealerRefs, (n) =>
    coordinator.call<{ broadcast: { from: string; commitment: string[] }; packages: { from: string; to: string }[] }>(n, '/reshare/deal', { ...body, recipients }),
  );
  // Every member sees the same broadcasts (the coordinator is the broadcast channel; members' results are compared below).
  const broadcasts = deals.map((d, i) => ({ nodeId: dealerRefs[i]!.id, broadcast: d.broadcast }));
  const packages = deals.flatMap((d, i) => d.packages.filter((p) => p.from === dealerRefs[i]!.id));
  const settled = await Promise.allSettled(
    plan.newNodes.map((n) =>
      coordinator.call<{ identifier: string; version: number; verifyingShare: string; public: WirePublic }>(n, '/reshare/stage', {
        walletId: plan.walletId,
        ceremonyId: plan.ceremonyId,
        broadcasts,
        packages: packages.filter((p) => p.to === n.id),
      }),
    ),
  );
  const failures: NodeFailure[] = [];
  const accusations = new Map<string, string[]>();
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') return;
    const f = asFailure(s.reason);
    const culprits = f.code === 'reshare-invalid' && Array.isArray(f.details?.culprits) ? (f.details!.culprits as unknown[]).map(String) : [];
    if (culprits.length === 0) failures.push(f);
    for (const c of culprits) accusations.set(c, [...(accusations.get(c) ?? []), plan.newNodes[i]!.id]);
  });
  if (accusations.size > 0) {
    const culprits = [...accusations.keys()].filter((c) => dealers!.includes(c)).sort();
    const named = culprits.map((c) => new NodeFailure(c, 'bad-share', `dealt a sub-share or commitment that does not verify (reported by ${accusations.get(c)!.join(', ')})`));
    throw new ReshareAbortedError(`share maintenance of wallet ${plan.walletId} aborted: invalid dealing`, [...named, ...failures], culprits);
  }
  if (failures.length) throw new QuorumError(`share maintenance of wallet ${plan.walletId}: staging failed`, failures);

  const staged = settled.map((s) => (s as PromiseFulfilledResult<{ identifier: string; version: number; verifyingShare: string; public: WirePublic }>).value);
  const reference = canonicalJson(staged[0]!.public);
  const bad: NodeFailure[] = [];
  staged.forEach((r, i) => {
    const node = plan.newNodes[i]!;
    if (canonicalJson(r.public) !== reference) bad.push(new NodeFailure(node.id, 'inconsistent', 'staged a different public package'));
    else if (r.identifier !== identifierOf(node.id) || r.public.verifyingShares[r.identifier] !== r.verifyingShare || r.version !== plan.fromVersion + 1) {
      bad.push(new NodeFailure(node.id, 'inconsistent', 'reports a verifying share or version that does not match the public package'));
    }
  });
  if (bad.length) throw new QuorumError(`share maintenance of wallet ${plan.walletId}: members disagree`, bad);
  const pub = staged[0]!.public;
  const groupPublicKey = plan.oldPublic.commitments[0]!;
  const problem = pub.signers.min !== plan.threshold || pub.signers.max !== plan.newNodes.length
    ? 'the staged threshold is not the planned one'
    : checkSharesInterpolate(pub, groupPublicKey);
  if (problem !== null) {
    throw new QuorumError(`share maintenance of wallet ${plan.walletId}: ${problem}`, plan.newNodes.map((n) => new NodeFailure(n.id, 'inconsistent', problem)));
  }
  return {
    version: plan.fromVersion + 1,
    dealers,
    groupPublicKey,
    public: pub,
    verifyingShares: Object.fromEntries(plan.newNodes.map((n, i) => [n.id, staged[i]!.verifyingShare])),
  };
}

/**
 * Phase two: members make the staged version of `newPublic` (as checked by stageShares) current,
 * leaving nodes delete their shares. Throws
 * QuorumError naming the nodes that did not acknowledge; the caller retries (it is idempotent).
 */
export async function commitShares(coordinator: SignerCoordinator, plan: MaintenancePlan, newPublic: WirePublic): Promise<CommitResult> {
  const version = plan.fromVersion + 1;
  const members = new Set(plan.newNodes.map((n) => n.id));
  const leaving = plan.oldNodes.filter((n) => !members.has(n.id));
  const targets = [...plan.newNodes.map((n) => ({ node: n, role: 'member' as const })), ...leaving.map((n) => ({ node: n, role: 'leaving' as const }))];
  const settled = await Promise.allSettled(
    targets.map(({ node, role }) =>
      coordinator.call<{ outcome: 'committed' | 'already-committed' | 'retired' }>(node, '/reshare/commit', {
        walletId: plan.walletId,
        ceremonyId: plan.ceremonyId,
        version,
        role,
        // Members commit only a staged share of exactly this package (the one checked in phase one).
        ...(role === 'member' ? { public: newPublic } : {}),
      }),
    ),
  );
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [asFailure(s.reason)] : []));
  if (failures.length) throw new QuorumError(`commit of share version ${version} of wallet ${plan.walletId} is incomplete`, failures);
  return {
    version,
    outcomes: Object.fromEntries(targets.map((t, i) => [t.node.id, (settled[i] as PromiseFulfilledResult<{ outcome: CommitResult['outcomes'][string] }>).value.outcome])),
  };
}

/** Phase two on failure: members discard what the ceremony staged. Returns the nodes that did not answer. */
export async function abortShares(coordinator: SignerCoordinator, plan: MaintenancePlan): Promise<NodeFailure[]> {
  const settled = await Promise.allSettled(
    plan.newNodes.map((n) => coordinator.call(n, '/reshare/abort', { walletId: plan.walletId, ceremonyId: plan.ceremonyId })),
  );
  return settled.flatMap((s) => (s.status === 'rejected' ? [asFailure(s.reason)] : []));
}

async function every<T>(nodes: SignerNodeRef[], f: (n: SignerNodeRef) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(nodes.map(f));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [asFailure(s.reason)] : []));
  if (failures.length) throw new QuorumError('share maintenance step failed', failures);
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

function asFailure(error: unknown): NodeFailure {
  if (error instanceof NodeFailure) return error;
  throw error;
}
