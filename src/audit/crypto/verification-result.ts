/**
 * The answer of every verifier in this folder: a yes, or a no with a reason a
 * person can act on (which object, which value was expected, which was found).
 */
export interface VerificationResult {
  readonly ok: boolean;
  readonly reason?: string;
}

export const verified: VerificationResult = Object.freeze({ ok: true });

export function rejected(reason: string): VerificationResult {
  return { ok: false, reason };
}
