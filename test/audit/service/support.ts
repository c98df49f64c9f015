/**
 * Fixtures of the audit service tests: the service on a fresh database (real PostgreSQL or PGlite,
 * real SoftHSM token, real Hardhat node from the global setup), a TCP proxy in front of the ledger
 * to simulate outages, an out-of-tree build of the process entry points, and a full structural
 * check of a stored log against the reference Merkle algorithms.
 */
import { buildEntryPoints as buildSharedEntryPoints } from '../../support/build-entry-points.js';
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { Contract, JsonRpcProvider, Network } from 'ethers';
import { DataSource } from 'typeorm';
import { createApp } from '../../../src/app.js';
import { loadConfig, type AppConfig } from '../../../src/config/config.js';
import { createDataSource, initializeDataSource, runMigrations } from '../../../src/db/data-source.js';
import { AuditStore } from '../../../src/audit/audit-store.js';
import { AuditService } from '../../../src/audit/audit.service.js';
import { AnchoringService } from '../../../src/audit/anchoring.service.js';
import { readContractArtifact } from '../../../src/ledger/artifacts.js';
import { decodeEvent, leafHash, nodeHash, rootFromLeafHashes } from '../../../src/audit/crypto/index.js';
import { backend, freshDatabase, type TestDatabase } from '../../db/support.js';

export { backend };
export const ROOT = process.cwd();

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** Settings for a service (or child process) on `db`, with the suite's HSM token and ledger. */
export function serviceConfig(db: TestDatabase, overrides: Record<string, string> = {}): AppConfig {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: db.config.DATA_DIR,
    DATABASE_URL: db.config.DATABASE_URL,
    ...overrides,
  };
  if (!env.DATABASE_URL) delete env.DATABASE_URL;
  return loadConfig(env);
}

/** A plain DataSource on a fresh, migrated database (no Nest, no HSM). */
export async function openStore(): Promise<{ db: TestDatabase; ds: DataSource; store: AuditStore; close(): Promise<void> }> {
  const db = await freshDatabase();
  const ds = createDataSource(serviceConfig(db));
  await initializeDataSource(ds);
  await runMigrations(ds);
  return {
    db,
    ds,
    store: new AuditStore(ds),
    close: async () => {
      await ds.destroy().catch(() => undefined);
      await db.drop();
    },
  };
}

export interface AuditApp {
  db: TestDatabase;
  config: AppConfig;
  app: INestApplication;
  ds: DataSource;
  audit: AuditService;
  anchoring: AnchoringService;
  store: AuditStore;
  close(): Promise<void>;
}

/** The whole service (as the API process builds it) on a fresh database. Workers are not started. */
export async function openAuditApp(overrides: Record<string, string> = {}): Promise<AuditApp> {
  const db = await freshDatabase();
  const config = serviceConfig(db, overrides);
  const app = await createApp(config, { quiet: true });
  await app.init();
  const audit = app.get(AuditService);
  return {
    db,
    config,
    app,
    ds: app.get(DataSource),
    audit,
    anchoring: app.get(AnchoringService),
    store: audit.store,
    close: async () => {
      await app.close().catch(() => undefined);
      await db.drop();
    },
  };
}

/** Read-only access to the chain, straight to the node (never through a proxy). */
export function ledgerProvider(): JsonRpcProvider {
  return new JsonRpcProvider(process.env.LEDGER_RPC_URL!, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
}

export async function auditAnchorAt(address: string, provider: JsonRpcProvider): Promise<Contract> {
  const artifact = await readContractArtifact(path.join(ROOT, 'artifacts'), 'AuditAnchor');
  return new Contract(address, artifact.abi, provider);
}

// ---------------------------------------------------------------------------------------------
// The log, checked row by row

interface EventRow {
  seq: unknown;
  leaf_data: Buffer;
  leaf_hash: Buffer;
}

const num = (v: unknown) => Number(v);

/**
 * Checks everything a stored log must satisfy, from the rows alone:
 *   - seq is exactly 0..n-1 (no gap, no duplicate) and audit_head.size = n;
 *   - every event's leaf data decodes canonically to an event with that seq, and its stored leaf
 *     hash is SHA-256(0x00 || leaf data);
 *   - audit_node holds exactly the perfect subtrees of a tree of n leaves, each with the hash the
 *     reference algorithm gives (leaves and parents recomputed here, not read back);
 *   - the root the store serves equals rootFromLeafHashes over the stored leaves.
 * Returns the leaf hashes and the root.
 */
export async function checkStoredLog(ds: DataSource, store: AuditStore): Promise<{ size: number; leaves: Buffer[]; root: Buffer }> {
  const [head] = await ds.query(`SELECT size FROM audit_head WHERE id = 1`);
  const size = num(head.size);
  const rows: EventRow[] = await ds.query(`SELECT seq, leaf_data, leaf_hash FROM audit_event ORDER BY seq`);
  expect(rows.length).toBe(size);
  expect(rows.map((r) => num(r.seq))).toEqual(Array.from({ length: size }, (_, i) => i));

  const leaves = rows.map((r, i) => {
    const data = Buffer.from(r.leaf_data);
    const event = decodeEvent(data);
    expect(Number(event.seq)).toBe(i);
    const h = Buffer.from(leafHash(data));
    expect(Buffer.from(r.leaf_hash).equals(h)).toBe(true);
    return h;
  });

  // Every perfect subtree, bottom up: level 0 = leaves, level l+1 pairs complete nodes of level l.
  const expected = new Map<string, Buffer>();
  let level: Buffer[] = leaves;
  for (let l = 0; level.length > 0; l++) {
    level.forEach((h, idx) => expected.set(`${l}/${idx}`, h));
    const up: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) up.push(Buffer.from(nodeHash(level[i]!, level[i + 1]!)));
    level = up;
  }
  const nodes: { level: unknown; idx: unknown; hash: Buffer }[] = await ds.query(`SELECT level, idx, hash FROM audit_node`);
  const stored = new Map(nodes.map((n) => [`${num(n.level)}/${num(n.idx)}`, Buffer.from(n.hash)]));
  expect(stored.size).toBe(nodes.length); // no duplicate (level, idx)
  expect([...stored.keys()].sort()).toEqual([...expected.keys()].sort());
  const wrong = [...expected].filter(([k, h]) => !stored.get(k)!.equals(h)).map(([k]) => k);
  expect(wrong).toEqual([]);

  const root = Buffer.from(rootFromLeafHashes(leaves));
  if (size > 0) expect((await store.root(size)).equals(root)).toBe(true);
  return { size, leaves, root };
}

/** Row counts and head of the log, to show that something changed nothing. */
export async function logSnapshot(ds: DataSource): Promise<Record<string, number>> {
  const [r] = await ds.query(`
    SELECT (SELECT size FROM audit_head WHERE id = 1) AS head,
           (SELECT count(*) FROM audit_event) AS events,
           (SELECT coalesce(max(seq), -1) FROM audit_event) AS max_seq,
           (SELECT count(*) FROM audit_node) AS nodes,
           (SELECT count(*) FROM audit_checkpoint) AS checkpoints,
           (SELECT count(*) FROM audit_anchor) AS anchors`);
  return Object.fromEntries(Object.entries(r as Record<string, unknown>).map(([k, v]) => [k, num(v)]));
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy in front of the ledger node

export type ProxyDecision = 'pass' | 'hold';

/**
 * Forwards TCP connections to the ledger node. close() stops listening and cuts every connection
 * (clients then get "connection refused", as if the node were down); open() listens again on the
 * same port. An optional inspector sees each HTTP request (the service opens one connection per
 * JSON-RPC request) and may hold it: the connection stays open and unanswered, as with a node that
 * stopped responding mid-request.
 */
export class LedgerProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;
  inspector?: (request: { method: string; params: unknown[] }[]) => ProxyDecision;
  held = 0;

  constructor(private readonly target: URL) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isOpen(): boolean {
    return this.server !== undefined;
  }

  async open(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => this.handle(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Cuts held connections (their clients see a reset) without closing the proxy. */
  releaseHeld(): void {
    for (const s of this.sockets) if ((s as net.Socket & { held?: boolean }).held) s.destroy();
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }

  private handle(client: net.Socket): void {
    this.track(client);
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const decision = this.decide(buffered);
      if (decision === undefined) return; // request not complete yet
      client.off('data', onData);
      if (decision === 'hold') {
        (client as net.Socket & { held?: boolean }).held = true;
        this.held++;
        return;
      }
      const upstream = net.connect(Number(this.target.port), this.target.hostname);
      this.track(upstream);
      upstream.write(buffered);
      client.pipe(upstream);
      upstream.pipe(client);
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  }

  /** undefined until the request's headers and body are complete. */
  private decide(data: Buffer): ProxyDecision | undefined {
    if (!this.inspector) return 'pass';
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const headers = data.subarray(0, end).toString('latin1');
    const length = Number(/content-length:\s*(\d+)/i.exec(headers)?.[1] ?? 0);
    if (data.length < end + 4 + length) return undefined;
    let calls: { method: string; params: unknown[] }[] = [];
    try {
      const body = JSON.parse(data.subarray(end + 4, end + 4 + length).toString('utf8'));
      calls = Array.isArray(body) ? body : [body];
    } catch {
      // not JSON-RPC: let it through
    }
    return this.inspector(calls);
  }
}

// ---------------------------------------------------------------------------------------------
// Process entry points, compiled from the tree

/** Compiles entry points into a temporary folder (see test/support/build-entry-points.ts). */
export function buildEntryPoints(entries: string[]) {
  return buildSharedEntryPoints(entries, 'audit-service-build-');
}

/** Output of a child process, kept for failure messages. */
export function collectOutput(child: ChildProcess): { text(): string } {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { text: () => out };
}

/** Resolves with the exit code (or the signal's name). */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}
