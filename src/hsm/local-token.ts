/**
 * The project-local SoftHSM2 token used in development, tests and the embedded launcher.
 *
 * ensureLocalToken runs hsm/setup-token.sh (idempotent: creates the token once, with random PINs)
 * and reads back what it recorded in <dir>/token.env. It does not touch process.env: SoftHSM2
 * reads SOFTHSM2_CONF once, when the module is initialised, so the caller sets
 * process.env.SOFTHSM2_CONF = confPath before opening the first Pkcs11Client in the process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LocalTokenOptions {
  /** Folder for softhsm2.conf, tokens/ and token.env (the repository's hsm/ folder by default). */
  dir?: string;
  /** Token label (default 'privacy-service'). */
  label?: string;
}

export interface LocalToken {
  /** Path of the generated softhsm2.conf: the value for SOFTHSM2_CONF. */
  confPath: string;
  label: string;
  /** User PIN of the token. Never log it. */
  pin: string;
}

export const SETUP_SCRIPT_NAME = 'setup-token.sh';

/** Create the token if needed and return where it is and how to log in. */
export function ensureLocalToken(options: LocalTokenOptions = {}): LocalToken {
  const script = findSetupScript();
  const dir = path.resolve(options.dir ?? path.dirname(script));
  const label = options.label ?? 'privacy-service';
  try {
    execFileSync('bash', [script], {
      env: { ...process.env, HSM_DIR: dir, HSM_TOKEN_LABEL: label },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`could not set up the local HSM token: ${stderr || (error as Error).message}`);
  }
  const env = parseEnvFile(readFileSync(path.join(dir, 'token.env'), 'utf8'));
  const confPath = env.SOFTHSM2_CONF;
  const pin = env.HSM_PIN;
  if (confPath === undefined || pin === undefined || env.HSM_TOKEN_LABEL !== label) {
    throw new Error(`${path.join(dir, 'token.env')} is incomplete or belongs to another token`);
  }
  return { confPath, label, pin };
}

/**
 * Parse the KEY='value' lines setup-token.sh writes (shell single quoting, where a quote inside a
 * value is written '\''). Bare KEY=value lines are accepted too; comments and blank lines skipped.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    values[key] = raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2 ? raw.slice(1, -1).replaceAll("'\\''", "'") : raw;
  }
  return values;
}

/** hsm/setup-token.sh, found upwards from this file (src/hsm in the sources, dist/src/hsm when built). */
function findSetupScript(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = path.join(dir, 'hsm', SETUP_SCRIPT_NAME);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find hsm/${SETUP_SCRIPT_NAME} above ${fileURLToPath(import.meta.url)}`);
}
