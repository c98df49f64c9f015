/**
 * Service configuration, read once from the environment and validated before anything starts.
 * A missing or malformed setting stops the process with one line that names it (see main.ts).
 * Plain module: no framework imports, so entry points and tools can load it too.
 */
import { z } from 'zod';
import path from 'node:path';

const port = z.coerce.number().int().min(0).max(65535);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** PostgreSQL connection string. When absent the embedded PGlite database in DATA_DIR is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** Folder for embedded state (PGlite database). */
  DATA_DIR: z.string().min(1).default('data'),
  /** PKCS#11 module (SoftHSM2 locally, a network HSM's module in production). */
  HSM_MODULE: z.string().min(1).default('/usr/lib/softhsm/libsofthsm2.so'),
  HSM_TOKEN_LABEL: z.string().min(1).max(32).default('privacy-service'),
  /** User PIN of the token. Never logged. */
  HSM_PIN: z.string().min(4, 'must be at least 4 characters').optional(),
  HSM_SESSIONS: z.coerce.number().int().min(1).max(64).default(4),
  /** Any EVM JSON-RPC endpoint (Hardhat locally, Besu/Geth in production). */
  LEDGER_RPC_URL: z.string().url().default('http://127.0.0.1:8545'),
  CUSTODY_SIGNER_URLS: z.string().optional(), // signer node base URLs, comma-separated (docs/custody-service.md)
  /**
   * Private key (0x + 64 hex) of the service's ledger account. When absent, the first unlocked
   * account of the JSON-RPC node is used (local Hardhat node only).
   */
  LEDGER_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, 'must be 0x followed by 64 hex digits')
    .optional(),
  /** The audit log's identity, the first line of every checkpoint (no spaces). */
  AUDIT_ORIGIN: z.string().regex(/^[\x21-\x2a\x2c-\x7e]{1,255}$/, 'must be printable ASCII without spaces or "+"').default('privacy-service.local/audit-log'),
  /** How often workers sign a checkpoint when the log has grown, and trigger anchoring. */
  AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(5000),
  /** Most checkpoints anchored in one ledger transaction. */
  AUDIT_ANCHOR_BATCH: z.coerce.number().int().min(1).max(200).default(50),
  ZK_ROOT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(4_294_967_295).default(3600), // validity of a superseded zk root
  ZK_PROVER_THREADS: z.coerce.number().int().min(1).max(64).default(1), // warm Groth16 prover threads per process
});

export type AppConfig = z.infer<typeof schema> & { DATA_DIR: string };

export class ConfigError extends Error {
  constructor(readonly setting: string, reason: string) {
    super(`configuration error: ${setting} ${reason}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Processes that open the HSM (API, worker) need its PIN; tools that only touch the database do not. */
  requireHsm?: boolean;
}

/** Validate the environment; throws ConfigError naming the first bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): AppConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = String(issue.path[0] ?? 'environment');
    const reason = issue.code === 'invalid_type' && env[setting] === undefined ? 'is required but not set' : issue.message;
    throw new ConfigError(setting, reason);
  }
  if ((opts.requireHsm ?? true) && !parsed.data.HSM_PIN) {
    throw new ConfigError('HSM_PIN', 'is required but not set (the embedded launcher reads it from hsm/token.env)');
  }
  return { ...parsed.data, DATA_DIR: path.resolve(parsed.data.DATA_DIR) };
}

/** Injection token for the validated configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');
