/**
 * The identity registry over HTTP, against real parts (PostgreSQL or PGlite, SoftHSM, Hardhat):
 * enrolment paths verify with the reference Poseidon Merkle math, concurrent enrolments get
 * distinct indices and the persisted tree equals a rebuild from the leaves, a revocation moves
 * the root while the old one stays valid within the window, owners only see their own
 * identities, bad input is refused with nothing stored, the audit log records every change, and
 * the roots land on the RootRegistry contract.
 */
import path from 'node:path';
import { Contract, JsonRpcProvider, Network } from 'ethers';
import request from 'supertest';
import { computeMerkleRoot, identityLeaf, loadPoseidon, yyyymmdd } from '../../../src/zk/circuit-inputs.js';
import { readContractArtifact } from '../../../src/ledger/artifacts.js';
import { RootHistoryService } from '../../../src/zk/registry/root-history.service.js';
import { RootPublisherService } from '../../../src/zk/registry/root-publisher.service.js';
import { backend, expectProblem, newSecret, openZkApp, rebuildIdentityTree, storedIdentityNodes, referenceNodes, type ZkApp } from './support.js';

let z: ZkApp;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  z = await openZkApp();
}, 120_000);

afterAll(async () => {
  await z?.close();
});

async function enrol(key: string, body: Record<string, unknown>) {
  return request(z.server).post('/zk/identities').set(bearer(key)).send(body);
}

async function counts(): Promise<Record<string, number>> {
  const [r] = await z.ds.query(`
    SELECT (SELECT count(*) FROM zk_identity) AS identities, (SELECT count(*) FROM zk_identity_node) AS nodes,
           (SELECT count(*) FROM zk_root) AS roots, (SELECT count(*) FROM zk_root_publication) AS publications,
           (SELECT size FROM zk_tree_head WHERE tree = 'identity') AS head,
           (SELECT count(*) FROM audit_event WHERE type LIKE 'zk.%') AS events`);
  return Object.fromEntries(Object.entries(r as Record<string, unknown>).map(([k, v]) => [k, Number(v)]));
}

describe(`identity registry (${backend})`, () => {
  let firstId: string;
  let firstRoot: string;

  it('enrols an identity; its path verifies to the root with the Poseidon Merkle math', async () => {
    const { commitment } = await newSecret();
    const res = await enrol(z.keys.walletA, { commitment, birthDate: 19900131, jurisdiction: 276 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), leafIndex: 0, leaf: expect.stringMatching(/^[1-9][0-9]*$/), root: expect.any(String) });
    expect(BigInt(res.body.leaf)).toBe(await identityLeaf(commitment, 19900131, 276));
    firstId = res.body.id;
    firstRoot = res.body.root;

    const p = await request(z.server).get(`/zk/identities/${firstId}/path`).set(bearer(z.keys.walletA)).expect(200);
    expect(p.body.leafIndex).toBe(0);
    expect(p.body.pathElements).toHaveLength(20);
    expect(p.body.pathIndices).toHaveLength(20);
    const h = await loadPoseidon();
    const root = computeMerkleRoot(h, BigInt(p.body.leaf), { pathElements: p.body.pathElements.map(BigInt), pathIndices: p.body.pathIndices });
    expect(root.toString()).toBe(p.body.root);
    expect(p.body.root).toBe(firstRoot);

    const roots = await request(z.server).get('/zk/roots/identity').expect(200);
    expect(roots.body).toMatchObject({ tree: 'identity', current: firstRoot, windowSeconds: 3600 });
    expect(roots.body.history[0]).toMatchObject({ version: 1, root: firstRoot, current: true, valid: true, validUntil: null });
    const check = await z.app.get(RootHistoryService).check('identity', BigInt(firstRoot));
    expect(check).toEqual({ known: true, current: true, validUntil: null });
  });

  it('accepts the birth date as an 8-digit string too', async () => {
    const { commitment } = await newSecret();
    const res = await enrol(z.keys.walletA, { commitment, birthDate: '20000229', jurisdiction: 1 });
    expect(res.status).toBe(201);
    const [row] = await z.ds.query(`SELECT birth_date FROM zk_identity WHERE id = $1`, [res.body.id]);
    expect(Number(row.birth_date)).toBe(20000229);
  });

  it('20 concurrent enrolments get distinct indices; the persisted tree equals a fresh rebuild', async () => {
    const secrets = await Promise.all(Array.from({ length: 20 }, () => newSecret()));
    const results = await Promise.all(
      secrets.map((s, i) => enrol(i % 2 ? z.keys.walletA : z.keys.walletB, { commitment: s.commitment, birthDate: 19800101 + i, jurisdiction: 100 + i })),
    );
    for (const r of results) expect(r.status).toBe(201);
    const indices = results.map((r) => r.body.leafIndex as number).sort((a, b) => a - b);
    expect(indices).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));

    const tree = await rebuildIdentityTree(z.ds);
    expect(await storedIdentityNodes(z.ds)).toEqual(referenceNodes(tree, 22));
    const [head] = await z.ds.query(`SELECT size, version, root FROM zk_tree_head WHERE tree = 'identity'`);
    expect({ size: Number(head.size), version: Number(head.version), root: head.root }).toEqual({ size: 22, version: 22, root: tree.root.toString() });
    // Versions are consecutive, exactly one root is current, and the roots of all 22 changes are queued for the ledger.
    const versions: { version: unknown; superseded_at: unknown }[] = await z.ds.query(`SELECT version, superseded_at FROM zk_root WHERE tree = 'identity' ORDER BY version`);
    expect(versions.map((v) => Number(v.version))).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect(versions.filter((v) => v.superseded_at === null)).toHaveLength(1);

    // Every enrolment's path (fetched now) verifies against the current root.
    const some = results.filter((_, i) => i % 2 === 0).slice(0, 3);
    for (const r of some) {
      const p = await request(z.server).get(`/zk/identities/${r.body.id}/path`).set(bearer(z.keys.walletB)).expect(200);
      expect(tree.verify(BigInt(p.body.leaf), { pathElements: p.body.pathElements.map(BigInt), pathIndices: p.body.pathIndices })).toBe(true);
    }
  });

  it('enrolments and revocations racing each other leave the tree equal to a rebuild', async () => {
    const victims: { id: string }[] = await z.ds.query(`SELECT id FROM zk_identity WHERE leaf_index BETWEEN 10 AND 14`);
    const secrets = await Promise.all(Array.from({ length: 8 }, () => newSecret()));
    const results = await Promise.all([
      ...secrets.map((s) => enrol(z.keys.walletB, { commitment: s.commitment, birthDate: 19700101, jurisdiction: 42 })),
      ...victims.map((v) => request(z.server).delete(`/zk/identities/${v.id}`).set(bearer(z.keys.admin))),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([...Array(5).fill(200), ...Array(8).fill(201)]);
    const tree = await rebuildIdentityTree(z.ds);
    expect(await storedIdentityNodes(z.ds)).toEqual(referenceNodes(tree, 30));
    const [head] = await z.ds.query(`SELECT size, version, root FROM zk_tree_head WHERE tree = 'identity'`);
    expect({ size: Number(head.size), version: Number(head.version), root: head.root }).toEqual({ size: 30, version: 35, root: tree.root.toString() });
  });

  it("404 for another wallet-app's identity; 403 for an admin asking for a path", async () => {
    expectProblem(await request(z.server).get(`/zk/identities/${firstId}/path`).set(bearer(z.keys.walletB)), 404);
    expectProblem(await request(z.server).get(`/zk/identities/00000000-0000-4000-8000-000000000000/path`).set(bearer(z.keys.walletA)), 404);
    expectProblem(await request(z.server).get(`/zk/identities/${firstId}/path`).set(bearer(z.keys.admin)), 403);
    expectProblem(await request(z.server).get(`/zk/identities/not-a-uuid/path`).set(bearer(z.keys.walletA)), 400);
  });

  it('400 for bad input, each field named, nothing stored', async () => {
    const before = await counts();
    const { commitment } = await newSecret();
    const modulus = '21888242871839275222246405745257275088548364400416034343698204186575808495617';
    const tomorrow = yyyymmdd(new Date(Date.now() + 86_400_000));
    const bad: [Record<string, unknown>, string][] = [
      [{ commitment: modulus, birthDate: 19900101, jurisdiction: 1 }, 'commitment'],
      [{ commitment: '0123', birthDate: 19900101, jurisdiction: 1 }, 'commitment'],
      [{ commitment: 12345, birthDate: 19900101, jurisdiction: 1 }, 'commitment'],
      [{ commitment, birthDate: 19900230, jurisdiction: 1 }, 'birthDate'],
      [{ commitment, birthDate: 19891301, jurisdiction: 1 }, 'birthDate'],
      [{ commitment, birthDate: tomorrow, jurisdiction: 1 }, 'birthDate'],
      [{ commitment, birthDate: '1990-01-01', jurisdiction: 1 }, 'birthDate'],
      [{ commitment, birthDate: 19900101, jurisdiction: 0 }, 'jurisdiction'],
      [{ commitment, birthDate: 19900101, jurisdiction: 1000 }, 'jurisdiction'],
      [{ commitment, birthDate: 19900101, jurisdiction: 1.5 }, 'jurisdiction'],
      [{ commitment, birthDate: 19900101, jurisdiction: 1, identitySecret: '1' }, 'identitySecret'],
      [{ birthDate: 19900101, jurisdiction: 1 }, 'commitment'],
    ];
    for (const [body, field] of bad) {
      const res = await enrol(z.keys.walletA, body);
      expectProblem(res, 400);
      expect({ body, fields: (res.body.errors as { field: string }[]).map((e) => e.field) }).toEqual({ body, fields: expect.arrayContaining([field]) });
    }
    expect(await counts()).toEqual(before);
  });

  it('409 for a commitment that is already enrolled, nothing stored; 403 for an admin enrolling', async () => {
    const [row] = await z.ds.query(`SELECT commitment FROM zk_identity WHERE id = $1`, [firstId]);
    const before = await counts();
    expectProblem(await enrol(z.keys.walletB, { commitment: row.commitment, birthDate: 19900101, jurisdiction: 1 }), 409);
    expectProblem(await enrol(z.keys.admin, { commitment: (await newSecret()).commitment, birthDate: 19900101, jurisdiction: 1 }), 403);
    expect(await counts()).toEqual(before);
  });

  it('revocation (admin only): leaf 0, new root; the old root stays valid within the window', async () => {
    const roots = z.app.get(RootHistoryService);
    const [head] = await z.ds.query(`SELECT root FROM zk_tree_head WHERE tree = 'identity'`);
    const oldRoot = BigInt(head.root);
    expectProblem(await request(z.server).delete(`/zk/identities/${firstId}`).set(bearer(z.keys.walletA)), 403);
    const res = await request(z.server).delete(`/zk/identities/${firstId}`).set(bearer(z.keys.admin)).expect(200);
    expect(res.body).toMatchObject({ id: firstId, status: 'revoked', leafIndex: 0 });
    expect(BigInt(res.body.root)).not.toBe(oldRoot);

    const tree = await rebuildIdentityTree(z.ds);
    expect(tree.leaf(0)).toBe(0n);
    expect(res.body.root).toBe(tree.root.toString());
    expect(await storedIdentityNodes(z.ds)).toEqual(referenceNodes(tree, 30));

    const old = await roots.check('identity', oldRoot);
    expect(old.known && !old.current).toBe(true);
    expect(old.validUntil!.getTime()).toBeGreaterThan(Date.now() + 3500_000);
    expect(await roots.isValid('identity', oldRoot)).toBe(true);
    expect(await roots.check('identity', BigInt(res.body.root))).toEqual({ known: true, current: true, validUntil: null });
    expect(await roots.check('identity', 12345n)).toEqual({ known: false, current: false, validUntil: null });

    // The owner can no longer fetch a path; revoking twice is a conflict; unknown ids are 404.
    expectProblem(await request(z.server).get(`/zk/identities/${firstId}/path`).set(bearer(z.keys.walletA)), 409);
    expectProblem(await request(z.server).delete(`/zk/identities/${firstId}`).set(bearer(z.keys.admin)), 409);
    expectProblem(await request(z.server).delete(`/zk/identities/00000000-0000-4000-8000-000000000000`).set(bearer(z.keys.admin)), 404);
  });

  it('records enrolments and revocations in the audit log, without secrets', async () => {
    const events: { type: string; subject: string; body: Record<string, unknown> }[] = await z.ds.query(
      `SELECT type, subject, body FROM audit_event WHERE type LIKE 'zk.identity.%' ORDER BY seq`,
    );
    expect(events.filter((e) => e.type === 'zk.identity.enrolled')).toHaveLength(30);
    const revoked = events.filter((e) => e.type === 'zk.identity.revoked');
    expect(revoked).toHaveLength(6);
    expect(revoked[5]).toMatchObject({ subject: `zk-identity:${firstId}`, body: { identityId: firstId, leafIndex: 0 } });
    for (const e of events) expect(Object.keys(e.body).sort()).toEqual(['commitment', 'identityId', 'leafIndex', 'root']);
  });

  it('publishes the roots on the identity RootRegistry contract', async () => {
    const publisher = z.app.get(RootPublisherService);
    const result = await publisher.publishPending();
    expect(result.confirmed.filter((c) => c.startsWith('identity:'))).toHaveLength(36);
    const { address } = await publisher.registryInfo('identity');
    const provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL!, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    try {
      const artifact = await readContractArtifact(path.join(process.cwd(), 'artifacts'), 'RootRegistry');
      const registry = new Contract(address, artifact.abi, provider);
      const [head] = await z.ds.query(`SELECT root FROM zk_tree_head WHERE tree = 'identity'`);
      expect(await registry.getFunction('currentRoot')()).toBe(BigInt(head.root));
      expect(await registry.getFunction('windowSeconds')()).toBe(3600n);
      const [first] = await z.ds.query(`SELECT root FROM zk_root WHERE tree = 'identity' AND version = 1`);
      expect(await registry.getFunction('isValidRoot')(BigInt(first.root))).toBe(true);
      const rows: { status: string; tx_hash: string | null; block_number: unknown }[] = await z.ds.query(
        `SELECT status, tx_hash, block_number FROM zk_root_publication WHERE tree = 'identity'`,
      );
      expect(rows.every((r) => r.status === 'confirmed' && /^0x[0-9a-f]{64}$/.test(r.tx_hash!) && Number(r.block_number) > 0)).toBe(true);
      // Running again finds nothing to do.
      expect((await publisher.publishPending()).confirmed).toEqual([]);
      const listed = await request(z.server).get('/zk/roots/identity').expect(200);
      expect(listed.body.history[0].publication).toMatchObject({ status: 'confirmed', contractAddress: address });
    } finally {
      provider.destroy();
    }
  });
});
