/**
 * What the verifier found: one line per check ("ok   <what>" or "FAIL <what>: <reason>"), and
 * notes about what was taken on trust (a key or contract address served by the service itself).
 */

export interface CheckResult {
  /** What was checked, e.g. "event 41 inclusion in checkpoint 100". */
  readonly check: string;
  readonly ok: boolean;
  /** For a passed check: what it rests on (key, contract, sizes). */
  readonly detail?: string;
  /** For a failed check: why, in words a person can act on. */
  readonly reason?: string;
}

export class VerificationReport {
  readonly checks: CheckResult[] = [];
  readonly notes: string[] = [];

  pass(check: string, detail?: string): void {
    this.checks.push(detail === undefined ? { check, ok: true } : { check, ok: true, detail });
  }

  fail(check: string, reason: string): void {
    this.checks.push({ check, ok: false, reason });
  }

  /** Records a check from a verifier answer ({ ok, reason }). */
  record(check: string, result: { ok: boolean; reason?: string }, detail?: string): boolean {
    if (result.ok) this.pass(check, detail);
    else this.fail(check, result.reason ?? 'rejected');
    return result.ok;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** True when at least one check ran and none failed. */
  get ok(): boolean {
    return this.checks.length > 0 && this.checks.every((c) => c.ok);
  }

  toText(): string {
    const lines = this.notes.map((n) => `note ${n}`);
    for (const c of this.checks) {
      lines.push(c.ok ? `ok   ${c.check}${c.detail ? ` (${c.detail})` : ''}` : `FAIL ${c.check}: ${c.reason}`);
    }
    const failed = this.checks.filter((c) => !c.ok).length;
    lines.push(
      this.ok
        ? `verified: all ${this.checks.length} checks passed`
        : `NOT verified: ${failed} of ${this.checks.length} checks failed`,
    );
    return lines.join('\n');
  }

  toJSON(): { ok: boolean; checks: CheckResult[]; notes: string[] } {
    return { ok: this.ok, checks: this.checks, notes: this.notes };
  }
}
