/**
 * Fixtures of the zk registry tests: the whole service (as the API process builds it) on a fresh
 * database (real PostgreSQL or PGlite), the suite's SoftHSM token and Hardhat node; an admin and
 * two wallet-app principals with API keys; and a rebuild of a tree from its leaves with the
 * reference PoseidonMerkleTree, to compare the persisted nodes with.
 */
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../../src/app.js';
import { AuthService } from '../../../src/auth/auth.service.js';
import { loadConfig, type AppConfig } from '../../../src/config/config.js';
import { PoseidonMerkleTree, commitment } from '../../../src/zk/circuit-inputs.js';
import { backend, freshDatabase, type TestDatabase } from '../../db/support.js';

export { backend };

export interface ZkApp {
  db: TestDatabase;
  config: AppConfig;
  app: NestExpressApplication;
  ds: DataSource;
  server: ReturnType<NestExpressApplication['getHttpServer']>;
  keys: { admin: string; walletA: string; walletB: string };
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function openZkApp(overrides: Record<string, string> = {}): Promise<ZkApp> {
  const db = await freshDatabase();
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: db.config.DATA_DIR,
    DATABASE_URL: db.config.DATABASE_URL,
    ...overrides,
  };
  if (!env.DATABASE_URL) delete env.DATABASE_URL;
  const config = loadConfig(env);
  const app = await createApp(config, { quiet: true });
  await app.init();
  const auth = app.get(AuthService);
  const keys = { admin: '', walletA: '', walletB: '' };
  for (const [k, role] of [['admin', 'admin'], ['walletA', 'wallet-app'], ['walletB', 'wallet-app']] as const) {
    await auth.createPrincipal(`zk-${k.toLowerCase()}`, role);
    keys[k] = (await auth.issueKey(`zk-${k.toLowerCase()}`)).key;
  }
  return {
    db,
    config,
    app,
    ds: app.get(DataSource),
    server: app.getHttpServer(),
    keys,
    close: async () => {
      await app.close().catch(() => undefined);
      await db.drop();
    },
  };
}

/** Asserts an RFC 9457 problem response with `status`. */
export function expectProblem(res: request.Response, status: number): void {
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status, type: expect.stringMatching(/^application\/problem\+json/) });
  expect(res.body).toMatchObject({ status, detail: expect.any(String) });
}

let secretCounter = 0n;
/** A fresh secret and its commitment Poseidon(secret). */
export async function newSecret(): Promise<{ secret: bigint; commitment: string }> {
  const secret = BigInt(Date.now()) * 1000n + ++secretCounter;
  return { secret, commitment: (await commitment(secret)).toString() };
}

/** The identity tree rebuilt from zk_identity rows alone (revoked leaves empty). */
export async function rebuildIdentityTree(ds: DataSource): Promise<PoseidonMerkleTree> {
  const tree = await PoseidonMerkleTree.create();
  const rows: { leaf_index: unknown; leaf: string; status: string }[] = await ds.query(`SELECT leaf_index, leaf, status FROM zk_identity ORDER BY leaf_index`);
  for (const r of rows) tree.update(Number(r.leaf_index), r.status === 'enrolled' ? BigInt(r.leaf) : 0n);
  return tree;
}

/** The stored identity nodes as a map "level/idx" -> hash. */
export async function storedIdentityNodes(ds: DataSource): Promise<Map<string, bigint>> {
  const rows: { level: unknown; idx: unknown; hash: string }[] = await ds.query(`SELECT level, idx, hash FROM zk_identity_node`);
  return new Map(rows.map((r) => [`${Number(r.level)}/${Number(r.idx)}`, BigInt(r.hash)]));
}

/** Every non-empty node of a reference tree, "level/idx" -> hash (the tree's sparse content). */
export function referenceNodes(tree: PoseidonMerkleTree, leafCount: number): Map<string, bigint> {
  const nodes = new Map<string, bigint>();
  let width = leafCount;
  for (let level = 0; level <= tree.depth; level++) {
    for (let i = 0; i < Math.max(width, 1); i++) {
      // The node at (level, i) is the root of the subtree over leaves [i*2^level, (i+1)*2^level).
      const h = nodeOf(tree, level, i);
      if (h !== tree.zero(level)) nodes.set(`${level}/${i}`, h);
    }
    width = Math.ceil(width / 2);
  }
  return nodes;
}

/** A node of the reference tree, from a leaf path: the sibling of (level-1, child) chain. */
function nodeOf(tree: PoseidonMerkleTree, level: number, index: number): bigint {
  if (level === 0) return tree.leaf(index);
  if (level === tree.depth) return tree.root;
  // The sibling of (level, index) appears in the path of any leaf under (level, index ^ 1).
  const leafUnderSibling = (index ^ 1) * 2 ** level;
  return tree.path(leafUnderSibling).pathElements[level]!;
}
