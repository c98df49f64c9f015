/**
 * A fixed set of PKCS#11 sessions handed out one caller at a time.
 *
 * A session runs one cryptographic operation at a time: a second C_EncryptInit on a busy session
 * fails with CKR_OPERATION_ACTIVE. Callers therefore borrow a whole session for an operation and
 * queue (first come, first served) when all sessions are busy.
 */
import { HsmError } from './hsm-error.js';

interface Waiter<S> {
  resolve(session: S): void;
  reject(error: Error): void;
}

export class SessionPool<S> {
  private readonly idle: S[];
  private readonly waiters: Waiter<S>[] = [];
  private readonly size: number;
  private closing = false;
  private onDrained: (() => void) | undefined;

  constructor(sessions: readonly S[]) {
    if (sessions.length === 0) throw new HsmError('HSM_INVALID_ARGUMENT', 'a session pool needs at least one session');
    this.idle = [...sessions];
    this.size = sessions.length;
  }

  /** Sessions in the pool, lent out or not. */
  get capacity(): number {
    return this.size;
  }

  /** Sessions currently lent out. */
  get busy(): number {
    return this.size - this.idle.length;
  }

  /** Callers waiting for a session. */
  get waiting(): number {
    return this.waiters.length;
  }

  acquire(): Promise<S> {
    if (this.closing) return Promise.reject(closedError());
    const session = this.idle.pop();
    if (session !== undefined) return Promise.resolve(session);
    return new Promise<S>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Give a session back (or its replacement, when the borrowed one had to be discarded). */
  release(session: S): void {
    const next = this.waiters.shift();
    if (next !== undefined) {
      next.resolve(session);
      return;
    }
    this.idle.push(session);
    if (this.closing && this.idle.length === this.size) this.onDrained?.();
  }

  /**
   * Refuse new borrowers, fail queued ones, wait for lent sessions to come back and return all
   * sessions so the owner can close them.
   */
  async drain(): Promise<S[]> {
    this.closing = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(closedError());
    if (this.idle.length < this.size) {
      await new Promise<void>((resolve) => (this.onDrained = resolve));
    }
    return this.idle.splice(0);
  }
}

function closedError(): HsmError {
  return new HsmError('HSM_CLOSED', 'the HSM client is closed');
}
