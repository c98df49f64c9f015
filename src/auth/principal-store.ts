/**
 * Principals and their API keys, over a TypeORM DataSource. Used by the Nest AuthService and by
 * the admin command-line tool (which must work before any admin key exists).
 */
import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { ApiKey } from './api-key.entity.js';
import { Principal } from './principal.entity.js';
import { generateApiKey, hashApiKey, parseApiKey } from './api-key-format.js';
import { conflict, notFound } from '../common/problem.js';
import type { AuthenticatedPrincipal, Role } from './roles.js';

export interface PrincipalView {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  disabledAt: string | null;
  keys: { prefix: string; createdAt: string; revokedAt: string | null }[];
}

/** Records an administrative action in the audit log inside the action's own transaction. */
export type AuditRecorder = (
  manager: EntityManager,
  event: { type: string; actor: string; subject: string; body: Record<string, unknown> },
) => Promise<unknown>;

export class PrincipalStore {
  constructor(
    private readonly ds: DataSource,
    private readonly record: AuditRecorder = async () => undefined,
  ) {}

  /** `actor` is who does it: an admin principal's name, or "admin-cli". */
  async createPrincipal(name: string, role: Role, actor = 'admin-cli'): Promise<PrincipalView> {
    try {
      return await this.ds.transaction(async (m) => {
        const saved = await m.getRepository(Principal).save({ name, role });
        await this.record(m, { type: 'auth.principal.created', actor, subject: name, body: { role } });
        return this.view(saved, []);
      });
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw conflict(`a principal named "${name}" already exists`);
      throw e;
    }
  }

  /** Issues a new key; the full key is returned once and only its hash is stored. */
  async issueKey(principalName: string, actor = 'admin-cli'): Promise<{ key: string; prefix: string; principal: string; role: Role }> {
    return this.ds.transaction(async (m) => {
      const principal = await m.getRepository(Principal).findOneBy({ name: principalName });
      if (!principal) throw notFound(`no principal named "${principalName}"`);
      if (principal.disabledAt) throw conflict(`principal "${principalName}" is disabled`);
      const k = generateApiKey();
      await m.getRepository(ApiKey).insert({ principalId: principal.id, prefix: k.prefix, keyHash: k.hash });
      // The audit record names the key by its public prefix only.
      await this.record(m, { type: 'auth.key.issued', actor, subject: principalName, body: { prefix: k.prefix } });
      return { key: k.key, prefix: k.prefix, principal: principal.name, role: principal.role as Role };
    });
  }

  /** Revokes a key by its public prefix. Revoking twice is a no-op that reports the first time. */
  async revokeKey(prefix: string, actor = 'admin-cli'): Promise<{ prefix: string; revokedAt: string }> {
    return this.ds.transaction(async (m) => {
      const repo = m.getRepository(ApiKey);
      const result = await repo.update({ prefix, revokedAt: IsNull() }, { revokedAt: new Date() });
      const key = await repo.findOneBy({ prefix });
      if (!key) throw notFound(`no API key with prefix "${prefix}"`);
      if (result.affected) await this.record(m, { type: 'auth.key.revoked', actor, subject: prefix, body: {} });
      return { prefix, revokedAt: key.revokedAt!.toISOString() };
    });
  }

  async list(): Promise<PrincipalView[]> {
    const principals = await this.ds.getRepository(Principal).find({ order: { createdAt: 'ASC' } });
    const keys = await this.ds.getRepository(ApiKey).find({ order: { createdAt: 'ASC' } });
    return principals.map((p) => this.view(p, keys.filter((k) => k.principalId === p.id)));
  }

  /** Resolves a presented key to its principal, or null when unknown, revoked or disabled. */
  async authenticate(presented: string): Promise<AuthenticatedPrincipal | null> {
    if (!parseApiKey(presented)) return null;
    const key = await this.ds
      .getRepository(ApiKey)
      .findOne({ where: { keyHash: hashApiKey(presented), revokedAt: IsNull() }, relations: { principal: true } });
    if (!key || !key.principal || key.principal.disabledAt) return null;
    return { id: key.principal.id, name: key.principal.name, role: key.principal.role as Role, keyPrefix: key.prefix };
  }

  private view(p: Principal, keys: ApiKey[]): PrincipalView {
    return {
      id: p.id,
      name: p.name,
      role: p.role as Role,
      createdAt: p.createdAt.toISOString(),
      disabledAt: p.disabledAt ? p.disabledAt.toISOString() : null,
      keys: keys.map((k) => ({
        prefix: k.prefix,
        createdAt: k.createdAt.toISOString(),
        revokedAt: k.revokedAt ? k.revokedAt.toISOString() : null,
      })),
    };
  }
}
