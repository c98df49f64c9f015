/**
 * LedgerService against a real `hardhat node` and a real database: idempotent deployments shared
 * by several service instances, redeployment after the chain is reset, and health when the node is down.
 */
import { createServer } from 'node:http';
import net from 'node:net';
import { Global, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../../src/config/config.module.js';
import { LedgerModule } from '../../src/ledger/ledger.module.js';
import { Contract, id } from 'ethers';
import type { AppConfig } from '../../src/config/config.js';
import { decodeRevert } from '../../src/ledger/contract-error.js';
import { ENTITIES } from '../../src/db/entities.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { Ledger1700000000100 } from '../../migrations/1700000000100-Ledger.js';
import { DeployedContract } from '../../src/ledger/deployed-contract.entity.js';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { startLocalLedgerNode, type LocalLedgerNode } from '../../src/ledger/local-node.js';
import { ARTIFACTS_DIR, ROOT, ensureCompiled, freePort, openTestDatabase, type TestDatabase } from './support.js';

/** Hardhat's well-known development account #1 (account #0 is the node's unlocked default). */
const DEV_KEY_1 = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';

let port: number;
let node: LocalLedgerNode;
let db: TestDatabase;
const services: LedgerService[] = [];

function ledgerService(overrides: Partial<AppConfig> = {}): LedgerService {
  const config = { LEDGER_RPC_URL: node.url, ...overrides } as AppConfig;
  const service = new LedgerService(config, db.dataSource, { artifactsDir: ARTIFACTS_DIR, healthTimeoutMs: 1500 });
  services.push(service);
  return service;
}

const rows = () => db.dataSource.getRepository(DeployedContract).find({ order: { key: 'ASC' } });

beforeAll(async () => {
  Logger.overrideLogger(false); // deployment notices are for operators, not test output
  ensureCompiled();
  port = await freePort();
  [node, db] = await Promise.all([startLocalLedgerNode({ port, cwd: ROOT }), openTestDatabase()]);
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
  await node?.stop();
  await db?.drop();
});

describe('LedgerService', () => {
  it('is registered with the database layer', () => {
    expect(ENTITIES).toContain(DeployedContract);
    expect(MIGRATIONS).toContain(Ledger1700000000100);
  });

  it('is provided by LedgerModule to a Nest application', async () => {
    @Global()
    @Module({ providers: [{ provide: DataSource, useValue: db.dataSource }], exports: [DataSource] })
    class TestDbModule {}
    const config = { LEDGER_RPC_URL: node.url } as AppConfig;
    const app = await NestFactory.createApplicationContext(
      { module: class TestApp {}, imports: [ConfigModule.forRoot(config), TestDbModule, LedgerModule] },
      { logger: false },
    );
    try {
      expect((await app.get(LedgerService).health()).status).toBe('ok');
    } finally {
      await app.close(); // onModuleDestroy releases the provider
    }
  });

  it('reports health with chain id and head block', async () => {
    const health = await ledgerService().health();
    expect(health).toMatchObject({ status: 'ok', chainId: 31337 });
    expect(health.blockNumber).toEqual(expect.any(Number));
  });

  it('finds compiled artifacts by name and explains a missing one', async () => {
    const ledger = ledgerService();
    const artifact = await ledger.loadArtifact('AuditAnchor');
    expect(artifact.sourceName).toBe('contracts/audit/AuditAnchor.sol');
    expect((await ledger.loadArtifact('contracts/audit/AuditAnchor.sol:AuditAnchor')).bytecode).toBe(artifact.bytecode);
    await expect(ledger.loadArtifact('NoSuchContract')).rejects.toThrow(/NoSuchContract is not compiled .*run npx hardhat build/);
  });

  it('deploys once: a second service instance on the same database reuses the contract', async () => {
    const first = ledgerService();
    const anchorer = await first.address();
    const a = await first.deploy('AuditAnchor', [anchorer]);
    expect(a).toMatchObject({ key: 'AuditAnchor', chainId: 31337, reused: false });

    const second = ledgerService();
    const b = await second.deploy('AuditAnchor', [anchorer]);
    expect(b).toMatchObject({ address: a.address, txHash: a.txHash, reused: true });
    expect(await rows()).toHaveLength(1);

    // The contract handed out is live and connected to the service's account.
    const anchor = await second.getContract('AuditAnchor');
    await (await anchor.getFunction('anchor')(1, id('leaf-1'))).wait();
    expect(await (a.contract as Contract).getFunction('latest')()).toEqual([1n, id('leaf-1')]);
  });

  it('keeps deployments apart by key', async () => {
    const ledger = ledgerService();
    const other = await ledger.deploy('AuditAnchor', [await ledger.address()], { key: 'audit-anchor-2' });
    expect(other.reused).toBe(false);
    expect(other.address).not.toBe((await ledger.getContract('AuditAnchor')).target);
    expect((await rows()).map((r) => r.key)).toEqual(['AuditAnchor', 'audit-anchor-2']);
    await expect(ledger.getContract('unknown')).rejects.toThrow(/no contract is deployed under key unknown on chain 31337/);
    await expect(ledger.deploy('SomeOtherContract', [], { key: 'audit-anchor-2' })).rejects.toThrow(
      /key audit-anchor-2 on chain 31337 already holds contract AuditAnchor, not SomeOtherContract/,
    );
  });

  it('sends concurrent transactions from a private-key account without nonce collisions', async () => {
    const ledger = ledgerService({ LEDGER_PRIVATE_KEY: DEV_KEY_1 });
    const account = await ledger.address();
    const keys = Array.from({ length: 5 }, (_, i) => `concurrent-${i}`);
    const deployed = await Promise.all(keys.map((key) => ledger.deploy('AuditAnchor', [account], { key })));
    expect(new Set(deployed.map((d) => d.address)).size).toBe(5);

    // Concurrent anchors on the five contracts: each send waits for the previous one's nonce.
    const receipts = await Promise.all(
      deployed.map(async (d, i) => (await d.contract.getFunction('anchor')(i + 1, id(`c${i}`))).wait()),
    );
    expect(receipts.every((r) => r.status === 1)).toBe(true);

    // A send that fails before broadcast (revert found while estimating gas) leaves no nonce gap.
    const failed = await deployed[0]!.contract.getFunction('anchor')(1, id('forged')).then(() => null, (e: unknown) => e);
    expect(decodeRevert(deployed[0]!.contract, failed)).toEqual({ name: 'ConflictingRoot', args: [1n, id('c0'), id('forged')] });
    await (await deployed[0]!.contract.getFunction('anchor')(2, id('c0-2'))).wait();
  });

  it('reports the node down quickly, with a reason, and recovers on a reset chain by redeploying', async () => {
    const ledger = ledgerService();
    const before = (await rows()).find((r) => r.key === 'AuditAnchor')!;

    await node.stop();
    const health = await ledger.health();
    expect(health).toEqual({
      status: 'down',
      chainId: null,
      blockNumber: null,
      detail: expect.stringMatching(new RegExp(`ledger node at http://127\\.0\\.0\\.1:${port} is unreachable \\(ECONNREFUSED\\)`)),
    });
    await expect(ledger.getContract('AuditAnchor')).rejects.toThrow(/unreachable/);

    // A fresh node on the same port: a new chain from genesis, without the recorded contracts.
    node = await startLocalLedgerNode({ port, cwd: ROOT });
    expect((await ledger.health()).status).toBe('ok');
    await expect(ledger.getContract('AuditAnchor')).rejects.toThrow(/no longer on the chain \(was it reset\?\)/);

    const redeployed = await ledger.deploy('AuditAnchor', [await ledger.address()]);
    expect(redeployed.reused).toBe(false);
    expect(await redeployed.contract.getFunction('latest')()).toEqual([0n, `0x${'0'.repeat(64)}`]);

    const after = (await rows()).find((r) => r.key === 'AuditAnchor')!;
    expect(after.id).toBe(before.id); // the row was replaced in place
    expect(after.address).toBe(redeployed.address);
    expect(after.deployedAt.getTime()).toBeGreaterThan(before.deployedAt.getTime());

    // And from now on it is reused again.
    expect((await ledgerService().deploy('AuditAnchor', [await ledger.address()])).reused).toBe(true);
  });

  it('gives up on a node that accepts connections but never answers', async () => {
    const held = new Set<net.Socket>();
    const server = net.createServer((socket) => held.add(socket)); // holds every connection open, silently
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port: silentPort } = server.address() as net.AddressInfo;
      const config = { LEDGER_RPC_URL: `http://127.0.0.1:${silentPort}` } as AppConfig;
      const ledger = new LedgerService(config, db.dataSource, { healthTimeoutMs: 300, requestTimeoutMs: 300 });
      services.push(ledger);
      expect(await ledger.health()).toMatchObject({
        status: 'down',
        detail: `ledger node at http://127.0.0.1:${silentPort} did not answer eth_chainId within 300 ms`,
      });
      await expect(ledger.chainId()).rejects.toThrow(/did not answer eth_chainId within 300 ms/);
    } finally {
      await new Promise((resolve) => {
        server.close(resolve);
        for (const socket of held) socket.destroy();
      });
    }
  });

  it('refuses the node account on a non-development chain when no private key is configured', async () => {
    // Simulated by pointing at a JSON-RPC endpoint whose chain id is not a development one.
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { id: rpcId } = JSON.parse(body) as { id: number };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ jsonrpc: '2.0', id: rpcId, result: '0x1' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port: fakePort } = server.address() as { port: number };
      const config = { LEDGER_RPC_URL: `http://127.0.0.1:${fakePort}` } as AppConfig;
      const ledger = new LedgerService(config, db.dataSource, { artifactsDir: ARTIFACTS_DIR });
      services.push(ledger);
      await expect(ledger.address()).rejects.toThrow(/LEDGER_PRIVATE_KEY is not set; .* not chain 1/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
