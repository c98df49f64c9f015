/** The session pool: one borrower per session, first come first served, orderly drain. */
import { HsmError } from '../../src/hsm/hsm-error.js';
import { SessionPool } from '../../src/hsm/session-pool.js';

describe('SessionPool', () => {
  it('lends each session to one caller and queues the rest in order', async () => {
    const pool = new SessionPool(['s1', 's2']);
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(new Set([a, b])).toEqual(new Set(['s1', 's2']));
    const order: string[] = [];
    const c = pool.acquire().then((s) => order.push(`c:${s}`));
    const d = pool.acquire().then((s) => order.push(`d:${s}`));
    expect(pool.waiting).toBe(2);
    pool.release(a);
    pool.release(b);
    await Promise.all([c, d]);
    expect(order).toEqual([`c:${a}`, `d:${b}`]);
    expect(pool.busy).toBe(2);
  });

  it('drains: fails waiters, waits for borrowed sessions, refuses new callers', async () => {
    const pool = new SessionPool(['s1']);
    const held = await pool.acquire();
    const waiter = pool.acquire();
    let drained: string[] | undefined;
    const draining = pool.drain().then((sessions) => (drained = sessions));
    await expect(waiter).rejects.toMatchObject({ code: 'HSM_CLOSED' });
    await expect(pool.acquire()).rejects.toBeInstanceOf(HsmError);
    await Promise.resolve();
    expect(drained).toBeUndefined();
    pool.release(held);
    await draining;
    expect(drained).toEqual(['s1']);
  });

  it('needs at least one session', () => {
    expect(() => new SessionPool([])).toThrow(HsmError);
  });
});
