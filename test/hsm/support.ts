/**
 * The SoftHSM2 token HSM tests run against.
 *
 * SoftHSM2 reads SOFTHSM2_CONF from the process environment once, at C_Initialize, so there is one
 * token configuration per process. If the environment already names one (the suite's global setup
 * or an earlier test file), it is reused; otherwise a token is created in a temporary folder.
 *
 * Jest hands each test file a copy of process.env: assigning to it is invisible to native code.
 * process.loadEnvFile writes the real environment, where SoftHSM2's getenv() looks, and later test
 * files in the same process see the value in their copies too.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureLocalToken, parseEnvFile, type LocalToken } from '../../src/hsm/local-token.js';

export const SOFTHSM_MODULE = process.env.HSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

export function testToken(): LocalToken {
  const existing = process.env.SOFTHSM2_CONF;
  if (existing) {
    const envFile = path.join(path.dirname(existing), 'token.env');
    if (existsSync(envFile)) {
      const env = parseEnvFile(readFileSync(envFile, 'utf8'));
      return { confPath: existing, label: env.HSM_TOKEN_LABEL!, pin: env.HSM_PIN! };
    }
    if (process.env.HSM_PIN) {
      return { confPath: existing, label: process.env.HSM_TOKEN_LABEL ?? 'privacy-service', pin: process.env.HSM_PIN };
    }
    throw new Error(`SOFTHSM2_CONF is set to ${existing} but neither token.env next to it nor HSM_PIN tells its PIN`);
  }
  const base = process.env.TEST_SCRATCH_DIR ?? os.tmpdir();
  mkdirSync(base, { recursive: true });
  const token = ensureLocalToken({ dir: mkdtempSync(path.join(base, 'hsm-')), label: 'privacy-service-test' });
  const envFile = path.join(path.dirname(token.confPath), 'process.env');
  writeFileSync(envFile, `SOFTHSM2_CONF=${JSON.stringify(token.confPath)}\n`, { mode: 0o600 });
  process.loadEnvFile(envFile);
  process.env.SOFTHSM2_CONF = token.confPath;
  return token;
}

/** A key label no other test (or earlier run on a kept token) has used. */
export function uniqueLabel(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
