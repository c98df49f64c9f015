/**
 * The database itself keeps the log append-only: UPDATE, DELETE and TRUNCATE on events, nodes and
 * checkpoints are refused by the migration's triggers, whoever runs them. And an append that fails
 * part-way leaves no event, no node and no head change behind.
 */
import type { DataSource } from 'typeorm';
import { backend, checkStoredLog, logSnapshot, openAuditApp, type AuditApp } from './support.js';

let svc: AuditApp;
let ds: DataSource;

beforeAll(async () => {
  svc = await openAuditApp();
  ds = svc.ds;
  await svc.audit.appendMany(
    Array.from({ length: 5 }, (_, i) => ({ type: 'test.append_only', actor: 'tester', subject: `s:${i}`, body: { i } })),
  );
  expect(await svc.audit.checkpoint()).not.toBeNull();
}, 60_000);

afterAll(async () => {
  await svc?.close();
});

/** Runs SQL expecting the append-only trigger's refusal; returns the error. */
async function refused(sql: string, op: string, table: string): Promise<void> {
  const error = await ds.query(sql).then(
    () => null,
    (e: unknown) => e as { message: string; code?: string; driverError?: { code?: string } },
  );
  expect(error).not.toBeNull();
  expect(error!.message).toContain(`the audit log is append-only: ${op} on ${table} is not allowed`);
  expect(error!.driverError?.code ?? error!.code).toBe('23001'); // restrict_violation
}

describe(`append-only storage (${backend})`, () => {
  const statements: [string, string, string, string][] = [
    ['audit_event', 'UPDATE', 'rewrite a body', `UPDATE audit_event SET body = '{"forged":true}'::jsonb WHERE seq = 1`],
    ['audit_event', 'UPDATE', 'even a no-op update', `UPDATE audit_event SET leaf_data = leaf_data, leaf_hash = leaf_hash`],
    ['audit_event', 'DELETE', 'remove an event', `DELETE FROM audit_event WHERE seq = 4`],
    ['audit_event', 'TRUNCATE', 'empty the table', `TRUNCATE audit_event CASCADE`],
    ['audit_node', 'UPDATE', 'rewrite a leaf hash', `UPDATE audit_node SET hash = decode(repeat('00', 32), 'hex') WHERE level = 0 AND idx = 0`],
    ['audit_node', 'DELETE', 'remove every node', `DELETE FROM audit_node`],
    ['audit_node', 'TRUNCATE', 'empty the table', `TRUNCATE audit_node`],
    ['audit_checkpoint', 'UPDATE', 'rewrite a signed root', `UPDATE audit_checkpoint SET root_hash = decode(repeat('11', 32), 'hex')`],
    ['audit_checkpoint', 'DELETE', 'remove a checkpoint', `DELETE FROM audit_checkpoint`],
    ['audit_checkpoint', 'TRUNCATE', 'empty the table, cascading to the outbox', `TRUNCATE audit_checkpoint CASCADE`],
  ];

  it.each(statements)('%s: %s (%s) is refused by the trigger', async (table, op, _what, sql) => {
    const before = await logSnapshot(ds);
    await refused(sql, op, table);
    expect(await logSnapshot(ds)).toEqual(before);
  });

  it('leaves every row as it was', async () => {
    const { size } = await checkStoredLog(ds, svc.store);
    expect(size).toBe(5);
    const cp = await svc.store.checkpoint(5);
    expect(cp!.rootHash.equals(await svc.store.root(5))).toBe(true);
  });

  it('the anchoring outbox (audit_anchor) stays writable: it is a work list, not history', async () => {
    await ds.query(`UPDATE audit_anchor SET attempts = attempts WHERE tree_size = 5`);
    expect((await svc.store.anchor(5))!.status).toBe('pending');
  });
});

describe(`a failed append leaves nothing behind (${backend})`, () => {
  const ok = (i: number) => ({ type: 'test.failed_append', actor: 'tester', subject: `ok:${i}`, body: { i } });

  async function expectNoChange(attempt: () => Promise<unknown>, message: RegExp | string): Promise<void> {
    const before = await logSnapshot(ds);
    await expect(attempt()).rejects.toThrow(message);
    expect(await logSnapshot(ds)).toEqual(before);
  }

  it('an event the database rejects in the middle of a batch (bad type)', async () => {
    await expectNoChange(
      () => svc.audit.appendMany([ok(1), ok(2), { type: 'Not A Type', actor: 'tester', body: {} }, ok(3)]),
      /audit_event_type_check/,
    );
  });

  it('an event the database rejects in the middle of a batch (actor too long)', async () => {
    await expectNoChange(() => svc.audit.appendMany([ok(1), { type: 'test.failed_append', actor: 'a'.repeat(300) }, ok(2)]), /audit_event_actor_check/);
  });

  it('an event that fails encoding inside the transaction, after the head was locked (empty actor)', async () => {
    await expectNoChange(() => svc.audit.appendMany([ok(1), ok(2), { type: 'test.failed_append', actor: '' }]), 'actor must not be empty');
  });

  it('a body that cannot be represented as JSON, in the middle of a batch', async () => {
    await expectNoChange(() => svc.audit.appendMany([ok(1), ok(2), { type: 'test.failed_append', actor: 'tester', body: { amount: 10n } }, ok(3)]), /bigint/i);
  });

  it('an error after the events and nodes were written, in the caller\'s transaction', async () => {
    let written = 0;
    await expectNoChange(
      () =>
        ds.transaction(async (m) => {
          const stored = await svc.audit.store.append([ok(1), ok(2), ok(3)], m);
          written = stored.length;
          // Inside the transaction the rows exist...
          const [{ n }] = await m.query(`SELECT count(*) AS n FROM audit_event WHERE subject LIKE 'ok:%'`);
          expect(Number(n)).toBe(3);
          throw new Error('forced failure after the append');
        }),
      'forced failure after the append',
    );
    expect(written).toBe(3);
  });

  it('the next append continues at the old size: no gap where the failures were', async () => {
    const before = await svc.store.size();
    const stored = await svc.audit.appendMany([ok(10), ok(11)]);
    expect(stored.map((e) => e.seq)).toEqual([before, before + 1]);
    const { size } = await checkStoredLog(ds, svc.store);
    expect(size).toBe(before + 2);
    const [{ n }] = await ds.query(`SELECT count(*) AS n FROM audit_event WHERE type = 'test.failed_append'`);
    expect(Number(n)).toBe(2);
  });
});
