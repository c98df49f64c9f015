import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { verifyApproval } from '../../custody/service/approval-digest.js';

export type RegulatorSigningCurve = 'p256' | 'secp256k1';

/** A registered regulator: its principal and its public keys. */
export interface Regulator {
  id: string;
  name: string;
  principalId: string;
  signingCurve: RegulatorSigningCurve;
  /** Compressed ECDSA public key (33 bytes, lower-case hex): verifies the regulator's submissions. */
  signingKey: string;
  /** Compressed secp256k1 public key (33 bytes, lower-case hex): dealer shares are encrypted to it. */
  encryptionKey: string;
}

interface RegulatorRow {
  id: string;
  name: string;
  principal_id: string;
  signing_curve: RegulatorSigningCurve;
  signing_key: string;
  encryption_key: string;
}

const SELECT = `SELECT id, name, principal_id, signing_curve, signing_key, encryption_key FROM analytics_regulator`;

export const regulatorFromRow = (r: RegulatorRow): Regulator => ({
  id: String(r.id),
  name: r.name,
  principalId: String(r.principal_id),
  signingCurve: r.signing_curve,
  signingKey: r.signing_key,
  encryptionKey: r.encryption_key,
});

/**
 * Who the regulators are and how their signatures are checked. Every signed regulator submission
 * (deals, verdicts, task approvals, partial decryptions) is an ECDSA signature r || s over a
 * 32-byte digest (see signed-digest.ts), the same convention as custody operators' approvals.
 */
@Injectable()
export class RegulatorDirectory {
  constructor(private readonly ds: DataSource) {}

  async byName(name: string, manager?: EntityManager): Promise<Regulator | null> {
    const [r] = await (manager ?? this.ds.manager).query(`${SELECT} WHERE name = $1`, [name]);
    return r ? regulatorFromRow(r) : null;
  }

  async forPrincipal(principalId: string, manager?: EntityManager): Promise<Regulator | null> {
    const [r] = await (manager ?? this.ds.manager).query(`${SELECT} WHERE principal_id = $1`, [principalId]);
    return r ? regulatorFromRow(r) : null;
  }

  async list(manager?: EntityManager): Promise<Regulator[]> {
    const rows: RegulatorRow[] = await (manager ?? this.ds.manager).query(`${SELECT} ORDER BY name`);
    return rows.map(regulatorFromRow);
  }

  /** True when `signatureHex` (r || s, 64 bytes, lower-case hex) is the regulator's signature over `digest`. */
  verifyRegulatorSignature(regulator: Pick<Regulator, 'signingCurve' | 'signingKey'>, digest: Uint8Array, signatureHex: string): boolean {
    if (!(digest instanceof Uint8Array) || digest.length !== 32) return false;
    return verifyApproval(regulator.signingCurve, regulator.signingKey, digest, signatureHex);
  }
}
