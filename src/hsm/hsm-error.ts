/**
 * Errors raised by the HSM layer, with messages an operator can act on.
 *
 * PKCS#11 reports failures as bare return values (CKR_*). pkcs11js turns them into a Pkcs11Error whose
 * message is 'CKR_X' (and a numeric `code`), or for some calls a plain Error 'CKR_X:123'. Both are
 * mapped here to an HsmError that keeps the CKR name as `code` and says what went wrong in words.
 * Messages name the token, the key label and the operation; never a PIN or key material.
 */

/** Failures detected by this layer rather than reported by the token. */
export type HsmLocalErrorCode =
  | 'HSM_MODULE_LOAD_FAILED'
  | 'HSM_TOKEN_NOT_FOUND'
  | 'HSM_TOKEN_AMBIGUOUS'
  | 'HSM_KEY_NOT_FOUND'
  | 'HSM_KEY_AMBIGUOUS'
  | 'HSM_KEY_MISMATCH'
  | 'HSM_AUTHENTICATION_FAILED'
  | 'HSM_INVALID_ARGUMENT'
  | 'HSM_BAD_RESPONSE'
  | 'HSM_NOT_OPEN'
  | 'HSM_CLOSED'
  | 'HSM_CONFIG_MISSING'
  | 'HSM_FAILED';

/** A PKCS#11 return value name such as 'CKR_PIN_INCORRECT', or one of the local codes. */
export type HsmErrorCode = `CKR_${string}` | HsmLocalErrorCode;

export class HsmError extends Error {
  override readonly name = 'HsmError';

  /**
   * @param code  the PKCS#11 return value name (CKR_*) or a local HSM_* code
   * @param ckr   the PKCS#11 return value behind a local code, when there is one
   */
  constructor(
    readonly code: HsmErrorCode,
    message: string,
    readonly ckr?: string,
  ) {
    super(message);
  }
}

/** The CKR_* name carried by an error thrown from pkcs11js, if any. */
export function ckrOf(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  return /\b(CKR_[A-Z0-9_]+)/.exec(message)?.[1];
}

export interface FailureContext {
  /** What was being done, in words: 'AES-GCM encryption', 'ECDSA signing', ... */
  operation: string;
  token: string;
  keyLabel?: string;
}

const UNAVAILABLE = new Set([
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
]);

const UNSUPPORTED = new Set([
  'CKR_MECHANISM_INVALID',
  'CKR_MECHANISM_PARAM_INVALID',
  'CKR_DOMAIN_PARAMS_INVALID',
  'CKR_CURVE_NOT_SUPPORTED',
  'CKR_FUNCTION_NOT_SUPPORTED',
  'CKR_TEMPLATE_INCONSISTENT',
  'CKR_ATTRIBUTE_VALUE_INVALID',
  'CKR_ATTRIBUTE_TYPE_INVALID',
]);

/**
 * Turn anything thrown while talking to the token into an HsmError. HsmErrors pass through unchanged.
 */
export function toHsmError(error: unknown, ctx: FailureContext): HsmError {
  if (error instanceof HsmError) return error;
  const ckr = ckrOf(error);
  const key = ctx.keyLabel === undefined ? '' : ` with key "${ctx.keyLabel}"`;
  if (ckr === undefined) {
    const reason = error instanceof Error ? error.message : String(error);
    return new HsmError('HSM_FAILED', `HSM ${ctx.operation}${key} on token "${ctx.token}" failed: ${reason}`);
  }
  let message: string;
  if (ckr === 'CKR_KEY_FUNCTION_NOT_PERMITTED' || ckr === 'CKR_KEY_TYPE_INCONSISTENT') {
    message = `HSM key "${ctx.keyLabel ?? '?'}" may not be used for ${ctx.operation} (${ckr})`;
  } else if (ckr === 'CKR_OBJECT_HANDLE_INVALID' || ckr === 'CKR_KEY_HANDLE_INVALID') {
    message = `HSM key "${ctx.keyLabel ?? '?'}" disappeared from token "${ctx.token}" during ${ctx.operation} (${ckr})`;
  } else if (ckr === 'CKR_USER_NOT_LOGGED_IN') {
    message = `HSM session on token "${ctx.token}" is no longer logged in during ${ctx.operation} (${ckr}): reopen the HSM client`;
  } else if (UNAVAILABLE.has(ckr)) {
    message = `HSM token "${ctx.token}" is unavailable: ${ctx.operation} failed (${ckr})`;
  } else if (UNSUPPORTED.has(ckr)) {
    message = `HSM token "${ctx.token}" does not support ${ctx.operation} as requested (${ckr})`;
  } else if (ckr === 'CKR_DEVICE_MEMORY' || ckr === 'CKR_HOST_MEMORY') {
    message = `HSM token "${ctx.token}" ran out of memory during ${ctx.operation} (${ckr})`;
  } else {
    message = `HSM ${ctx.operation}${key} on token "${ctx.token}" failed (${ckr})`;
  }
  return new HsmError(ckr as HsmErrorCode, message);
}

/** Errors for the outcome of C_Login, which deserve their own wording. */
export function loginError(ckr: string, token: string): HsmError {
  const reasons: Record<string, string> = {
    CKR_PIN_INCORRECT: 'the PIN for token "%" is incorrect',
    CKR_PIN_LOCKED: 'the PIN for token "%" is locked; the security officer must reset it',
    CKR_PIN_EXPIRED: 'the PIN for token "%" has expired; set a new one',
    CKR_PIN_LEN_RANGE: 'the PIN for token "%" has a length the token does not accept',
    CKR_PIN_INVALID: 'the PIN for token "%" contains characters the token does not accept',
    CKR_USER_PIN_NOT_INITIALIZED: 'token "%" has no user PIN yet; initialise it (hsm/setup-token.sh)',
  };
  const reason = (reasons[ckr] ?? 'token "%" refused the login').replace('%', token);
  return new HsmError(ckr as HsmErrorCode, `HSM login failed: ${reason} (${ckr})`);
}
