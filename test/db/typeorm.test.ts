/**
 * The service's DataSource on the suite's backend: every registered migration from an empty
 * database, entities through repositories, and transaction semantics through TypeORM (QueryRunner,
 * DataSource.transaction, pessimistic locks).
 */
import { Column, DataSource, Entity, PrimaryColumn, QueryFailedError, type MigrationInterface, type QueryRunner } from 'typeorm';
import { backend, freshDatabase, type TestDatabase } from './support.js';
import { createDataSource, runMigrations, initializeDataSource } from '../../src/db/data-source.js';
import { ENTITIES } from '../../src/db/entities.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { Principal } from '../../src/auth/principal.entity.js';
import { ApiKey } from '../../src/auth/api-key.entity.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A test-only table, added through the `extra` registries. */
@Entity({ name: 'test_counter' })
class Counter {
  @PrimaryColumn({ type: 'int' }) id!: number;
  @Column({ type: 'int' }) n!: number;
  @Column({ type: 'jsonb', nullable: true }) meta!: Record<string, unknown> | null;
}

class CreateTestCounter1999999999999 implements MigrationInterface {
  name = 'CreateTestCounter1999999999999';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE test_counter (id int PRIMARY KEY, n int NOT NULL, meta jsonb)`);
    await q.query(`INSERT INTO test_counter (id, n) VALUES (1, 0)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE test_counter`);
  }
}

const extra = { entities: [...ENTITIES, Counter], migrations: [...MIGRATIONS, CreateTestCounter1999999999999] };

let db: TestDatabase;
let ds: DataSource;

beforeAll(async () => {
  db = await freshDatabase();
  ds = await initializeDataSource(createDataSource(db.config, extra));
});

afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

function newKeyHash(seed: number): Buffer {
  return Buffer.alloc(32, seed);
}

describe(`migrations (${backend})`, () => {
  it('apply every registered migration to an empty database, then find nothing pending', async () => {
    const tablesBefore = await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`);
    expect(tablesBefore).toEqual([]);

    const applied = await runMigrations(ds);
    expect(applied.map((m) => m.name)).toEqual(extra.migrations.map((M) => new M().name));

    const tables = (await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)) as { table_name: string }[];
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['principal', 'api_key', 'migrations', 'test_counter']));

    expect(await runMigrations(ds)).toEqual([]);
    const recorded = (await ds.query('SELECT name FROM migrations ORDER BY id')) as { name: string }[];
    expect(recorded.map((r) => r.name)).toEqual(applied.map((m) => m.name));
  });

  it('two runs started at once apply each migration exactly once', async () => {
    const other = await freshDatabase();
    const a = await initializeDataSource(createDataSource(other.config));
    const b = await initializeDataSource(createDataSource(other.config));
    try {
      const [ra, rb] = await Promise.all([runMigrations(a), runMigrations(b)]);
      expect([...ra, ...rb].map((m) => m.name).sort()).toEqual(MIGRATIONS.map((M) => new M().name).sort());
      expect(await a.query('SELECT count(*)::int AS c FROM migrations')).toEqual([{ c: MIGRATIONS.length }]);
    } finally {
      await a.destroy();
      await b.destroy();
      await other.drop();
    }
  });
});

describe(`entities and repositories (${backend})`, () => {
  it('stores principals and API keys (uuid, timestamptz, bytea, relation)', async () => {
    const p = await ds.getRepository(Principal).save({ name: 'acme-wallet', role: 'wallet-app' });
    expect(p.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.createdAt).toBeInstanceOf(Date);
    await ds.getRepository(ApiKey).insert({ principalId: p.id, prefix: 'a1b2c3d4', keyHash: newKeyHash(1) });

    const key = await ds.getRepository(ApiKey).findOne({ where: { keyHash: newKeyHash(1) }, relations: { principal: true } });
    expect(key).toMatchObject({ prefix: 'a1b2c3d4', revokedAt: null, lastUsedAt: null, principal: { name: 'acme-wallet', role: 'wallet-app', disabledAt: null } });
    expect(Buffer.isBuffer(key!.keyHash) && key!.keyHash.equals(newKeyHash(1))).toBe(true);
  });

  it('a duplicate name fails with QueryFailedError carrying SQLSTATE 23505', async () => {
    const err = await ds.getRepository(Principal).save({ name: 'acme-wallet', role: 'regulator' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryFailedError);
    expect(err).toMatchObject({ code: '23505', driverError: { code: '23505', constraint: 'principal_name_key' } });
  });

  it('the schema rejects unknown roles, duplicate key hashes and hashes of the wrong length', async () => {
    await expect(ds.getRepository(Principal).save({ name: 'x', role: 'root' as never })).rejects.toMatchObject({ code: '23514' });
    const p = await ds.getRepository(Principal).findOneByOrFail({ name: 'acme-wallet' });
    await expect(ds.getRepository(ApiKey).insert({ principalId: p.id, prefix: 'ffff0000', keyHash: newKeyHash(1) })).rejects.toMatchObject({ code: '23505' });
    await expect(ds.getRepository(ApiKey).insert({ principalId: p.id, prefix: 'ffff0001', keyHash: Buffer.alloc(31) })).rejects.toMatchObject({ code: '23514' });
  });
});

describe(`transactions through TypeORM (${backend})`, () => {
  it('QueryRunner commit keeps, rollback discards', async () => {
    const qr = ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      await qr.manager.save(Principal, { name: 'kept', role: 'operator' });
      await qr.commitTransaction();
      await qr.startTransaction();
      await qr.manager.save(Principal, { name: 'discarded', role: 'operator' });
      await qr.rollbackTransaction();
    } finally {
      await qr.release();
    }
    expect(await ds.getRepository(Principal).countBy({ name: 'kept' })).toBe(1);
    expect(await ds.getRepository(Principal).countBy({ name: 'discarded' })).toBe(0);
  });

  it('10 concurrent transactions with a pessimistic write lock add exactly 10', async () => {
    await ds.getRepository(Counter).update({ id: 1 }, { n: 0 });
    await Promise.all(
      Array.from({ length: 10 }, () =>
        ds.transaction(async (m) => {
          const c = await m.getRepository(Counter).findOneOrFail({ where: { id: 1 }, lock: { mode: 'pessimistic_write' } });
          await sleep(5);
          await m.getRepository(Counter).update({ id: 1 }, { n: c.n + 1 });
        }),
      ),
    );
    expect((await ds.getRepository(Counter).findOneByOrFail({ id: 1 })).n).toBe(10);
  });

  it('a failing transaction rolls back alone; a concurrent one commits (jsonb through an entity)', async () => {
    const ok = ds.transaction(async (m) => {
      await m.getRepository(Counter).insert({ id: 2, n: 2, meta: { by: 'ok', list: [1, 2] } });
      await sleep(40);
    });
    const failing = ds
      .transaction(async (m) => {
        await m.getRepository(Counter).insert({ id: 3, n: 3, meta: null });
        await sleep(10);
        throw new Error('abort');
      })
      .catch((e: Error) => e.message);
    expect(await failing).toBe('abort');
    await ok;
    const rows = await ds.getRepository(Counter).find({ where: [{ id: 2 }, { id: 3 }] });
    expect(rows).toEqual([{ id: 2, n: 2, meta: { by: 'ok', list: [1, 2] } }]);
  });
});
