/**
 * What operators sign to approve a share refresh or resharing: SHA-256 of the canonical JSON of the
 * maintenance ceremony (keys in this fixed alphabetical order, no whitespace, node lists in the
 * given order, versions and thresholds as numbers, expiry as ISO 8601 UTC with milliseconds). The
 * `purpose` field keeps a maintenance digest apart from a transfer digest. Plain code, no Nest.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export interface MaintenanceFacts {
  ceremonyId: string;
  kind: 'refresh' | 'reshare';
  /** The wallet contract address. */
  wallet: string;
  groupKey: string;
  fromNodes: string[];
  fromThreshold: number;
  fromVersion: number;
  toNodes: string[];
  toThreshold: number;
  toVersion: number;
  expiresAt: Date;
}

export function canonicalMaintenanceJson(f: MaintenanceFacts): string {
  return JSON.stringify({
    ceremonyId: f.ceremonyId.toLowerCase(),
    expiresAt: f.expiresAt.toISOString(),
    fromNodes: f.fromNodes,
    fromThreshold: f.fromThreshold,
    fromVersion: f.fromVersion,
    groupKey: f.groupKey.toLowerCase(),
    kind: f.kind,
    purpose: 'custody-share-maintenance',
    toNodes: f.toNodes,
    toThreshold: f.toThreshold,
    toVersion: f.toVersion,
    wallet: f.wallet.toLowerCase(),
  });
}

/** The 32 bytes each operator signs (ECDSA, no further hashing), as for transfer approvals. */
export function maintenanceDigest(f: MaintenanceFacts): Uint8Array {
  return sha256(new TextEncoder().encode(canonicalMaintenanceJson(f)));
}
