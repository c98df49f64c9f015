/**
 * Regulators' command-line client. Talks only to the REST API (no database, no Nest). The
 * regulator's secrets stay in its state folder, sealed by its own HSM token (regulator-vault.ts):
 * the client never prints or sends a secret. Usage:
 *
 *   npm run regulator -- init --state <dir> --name <regulator>
 *   npm run regulator -- keygen <keySetId> [--timeout <s>] [--interval <s>]
 *   npm run regulator -- tasks [--status <status>]
 *   npm run regulator -- approve <taskId>
 *   npm run regulator -- decrypt <taskId>
 *
 * Exit codes: 0 ok, 1 the API refused or a check failed, 2 usage.
 */
import { parseArgs } from 'node:util';
import { FEATURE_SLOTS } from '../features.js';
import {
  ApiRefusal,
  CeremonyError,
  RegulatorApi,
  buildPartials,
  runKeygen,
  taskDigest,
  type TaskView,
} from './regulator-protocol.js';
import { RegulatorVault, VaultError, hsmSettingsFromEnv } from './regulator-vault.js';

const USAGE = `usage: regulator [options] <command>
commands:
  init --name <regulator>     create the signing key (P-256, inside the HSM token) and the encryption key
                              (secp256k1, sealed by the token) in the state folder; prints the public keys
  keygen <keySetId>           take part in a key ceremony: deal, verify, and seal this regulator's key share
                              of every slot key; resumes where a previous run stopped
  tasks [--status <status>]   computation tasks
  approve <taskId>            sign the task digest, recomputed here from its id and definition
  decrypt <taskId>            partial decryptions (with proofs) of the task's aggregates, signed
options (or environment):
  --state <dir>         the regulator's state folder (REGULATOR_STATE)
  --url <url>           API base URL (REGULATOR_API_URL)
  --api-key <key>       the regulator principal's API key (REGULATOR_API_KEY)
  --timeout <s>         keygen: give up waiting for the others after this long (default 600)
  --interval <s>        keygen: seconds between polls (default 1)
the HSM token: HSM_MODULE, HSM_TOKEN_LABEL, HSM_PIN, SOFTHSM2_CONF
exit codes: 0 ok, 1 the API refused or a check failed, 2 usage`;

class UsageError extends Error {}
class Refused extends Error {}

type Opts = Record<string, string | boolean | undefined>;

function need(opts: Opts, name: string, env?: string): string {
  const v = (opts[name] as string | undefined) ?? (env ? process.env[env] : undefined);
  if (!v) throw new UsageError(`missing --${name}${env ? ` (or ${env})` : ''}`);
  return v;
}

function positiveNumber(v: string | boolean | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of seconds`);
  return n;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
function uuidArg(v: string | undefined, what: string): string {
  if (!v || !UUID.test(v)) throw new UsageError(`${what} must be a UUID`);
  return v;
}

const api = (opts: Opts) => new RegulatorApi(need(opts, 'url', 'REGULATOR_API_URL'), need(opts, 'api-key', 'REGULATOR_API_KEY'));

async function withVault<T>(opts: Opts, work: (vault: RegulatorVault) => Promise<T>): Promise<T> {
  const vault = await RegulatorVault.open(need(opts, 'state', 'REGULATOR_STATE'), hsmSettingsFromEnv());
  try {
    return await work(vault);
  } finally {
    await vault.close();
  }
}

const hex = (digest: Uint8Array) => Buffer.from(digest).toString('hex');
const sameDigest = (a: string, b: string) => a.toLowerCase().replace(/^0x/, '') === b.toLowerCase().replace(/^0x/, '');

async function run(argv: string[]): Promise<number> {
  const { values: opts, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      state: { type: 'string' },
      name: { type: 'string' },
      url: { type: 'string' },
      'api-key': { type: 'string' },
      timeout: { type: 'string' },
      interval: { type: 'string' },
      status: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  if (opts.help || !command) {
    console.log(USAGE);
    return command || opts.help ? 0 : 2;
  }
  switch (command) {
    case 'init': {
      const name = need(opts, 'name', 'REGULATOR_NAME');
      if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) throw new UsageError('--name must be 1-63 lower-case letters, digits, dots, underscores or dashes');
      const vault = await RegulatorVault.init(need(opts, 'state', 'REGULATOR_STATE'), name, hsmSettingsFromEnv());
      try {
        console.log(`regulator:     ${vault.name}`);
        console.log(`signingCurve:  ${vault.signingCurve}`);
        console.log(`signingKey:    ${vault.signingKey}`);
        console.log(`encryptionKey: ${vault.encryptionKey}`);
        console.log('register it (admin): POST /analytics/regulators');
        console.log(JSON.stringify({ name: vault.name, principal: '<principal name>', signingCurve: vault.signingCurve, signingKey: vault.signingKey, encryptionKey: vault.encryptionKey }));
      } finally {
        await vault.close();
      }
      return 0;
    }
    case 'keygen': {
      const keySetId = uuidArg(arg, 'the key set id');
      const client = api(opts);
      const timeoutSeconds = positiveNumber(opts.timeout, 'timeout', 600);
      const intervalSeconds = positiveNumber(opts.interval, 'interval', 1);
      return withVault(opts, async (vault) => {
        const ks = await runKeygen(client, vault, vault, keySetId, { timeoutSeconds, intervalSeconds, log: (l) => console.log(l) });
        const me = ks.participants.find((p) => p.regulator === vault.name)!;
        console.log(`key set ${ks.id} is ${ks.status}: ${ks.threshold}-of-${ks.participants.length}, ${vault.name} is participant ${me.index}`);
        for (const s of ks.slots) {
          const pk = s.publicKey as { qualified: number[]; groupPublicKey: string[] } | null;
          console.log(`  ${s.slot.padEnd(12)} qualified ${pk?.qualified.join(',') ?? '-'}${s.complaints.length ? `  complaints: ${s.complaints.map((c) => `${c.accuser}->${c.dealer}`).join(' ')}` : ''}`);
        }
        console.log(`key shares sealed for ${FEATURE_SLOTS.length} slots`);
        return 0;
      });
    }
    case 'tasks': {
      const q = typeof opts.status === 'string' ? `?status=${encodeURIComponent(opts.status)}` : '';
      const tasks = await api(opts).call<TaskView[]>('GET', `/analytics/tasks${q}`);
      console.log(['ID'.padEnd(36), 'STATUS'.padEnd(12), 'DIGEST'].join('  '));
      for (const t of tasks) console.log([t.id.padEnd(36), String(t.status).padEnd(12), t.digest].join('  '));
      return 0;
    }
    case 'approve': {
      const taskId = uuidArg(arg, 'the task id');
      const client = api(opts);
      const task = await client.call<TaskView>('GET', `/analytics/tasks/${taskId}`);
      if (task.id !== taskId) throw new Refused(`the server answered with task ${task.id}, not ${taskId}`);
      const digest = taskDigest(taskId, task.definition);
      console.log(`definition: ${JSON.stringify(task.definition)}`);
      console.log(`digest:     ${hex(digest)} (recomputed here)`);
      // Sign only what was recomputed from the definition shown above, never the server's digest.
      if (!sameDigest(task.digest, hex(digest))) throw new Refused(`the server's digest ${task.digest} does not match the definition; nothing signed`);
      return withVault(opts, async (vault) => {
        await client.call('POST', `/analytics/tasks/${taskId}/approvals`, { regulator: vault.name, signature: await vault.sign(digest) });
        console.log(`approved task ${taskId} as ${vault.name}`);
        return 0;
      });
    }
    case 'decrypt': {
      const taskId = uuidArg(arg, 'the task id');
      const client = api(opts);
      const task = await client.call<TaskView>('GET', `/analytics/tasks/${taskId}`);
      if (task.id !== taskId) throw new Refused(`the server answered with task ${task.id}, not ${taskId}`);
      if (task.status !== 'decrypting') throw new Refused(`task ${taskId} is ${task.status}, not decrypting`);
      return withVault(opts, async (vault) => {
        const body = await buildPartials(task, vault, vault);
        await client.call('POST', `/analytics/tasks/${taskId}/partials`, body);
        console.log(`partial decryptions of ${body.partials.length} aggregate(s) sent as ${vault.name}`);
        return 0;
      });
    }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      console.error(`regulator: ${(e as Error).message}\n${USAGE}`);
      process.exit(2);
    }
    const known = e instanceof Refused || e instanceof ApiRefusal || e instanceof CeremonyError || e instanceof VaultError;
    console.error(`regulator: ${known ? (e as Error).message : `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`}`);
    process.exit(1);
  },
);
