/**
 * Admin command-line tool: manages principals and API keys directly in the database, so the
 * first admin key can be created before any exists. Usage:
 *
 *   npm run admin -- create-principal <name> <role>     role: wallet-app | regulator | operator | admin
 *   npm run admin -- issue-key <name>                   prints the new key once (only its hash is stored)
 *   npm run admin -- revoke-key <prefix>
 *   npm run admin -- list
 *
 * Uses DATABASE_URL (PostgreSQL) or the embedded PGlite database in DATA_DIR.
 */
import 'reflect-metadata';
import { loadConfig } from '../config/config.js';
import { createDataSource, runMigrations } from '../db/data-source.js';
import { PrincipalStore } from '../auth/principal-store.js';
import { AuditStore } from '../audit/audit-store.js';
import { ROLES, type Role } from '../auth/roles.js';
import { describeStartupError } from '../common/startup-error.js';

const USAGE = `usage: admin create-principal <name> <role> | issue-key <name> | revoke-key <prefix> | list
roles: ${ROLES.join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    console.log(USAGE);
    return cmd ? 0 : 64;
  }
  const config = loadConfig(process.env, { requireHsm: false });
  const ds = createDataSource(config);
  await ds.initialize();
  try {
    await runMigrations(ds);
    // Every change is recorded in the audit log, in the same transaction, with actor "admin-cli".
    const audit = new AuditStore(ds);
    const store = new PrincipalStore(ds, (m, e) => audit.append([e], m));
    switch (cmd) {
      case 'create-principal': {
        const [name, role] = args;
        if (!name || !role || !(ROLES as readonly string[]).includes(role)) {
          console.error(USAGE);
          return 64;
        }
        const p = await store.createPrincipal(name, role as Role);
        console.log(`created principal ${p.name} (${p.role}) id=${p.id}`);
        return 0;
      }
      case 'issue-key': {
        if (!args[0]) { console.error(USAGE); return 64; }
        const k = await store.issueKey(args[0]);
        // The key goes to stdout only, so it can be captured: `KEY=$(npm run -s admin -- issue-key x)`.
        console.error(`issued key ${k.prefix} for ${k.principal} (${k.role}); store it now, it is not shown again`);
        console.log(k.key);
        return 0;
      }
      case 'revoke-key': {
        if (!args[0]) { console.error(USAGE); return 64; }
        const r = await store.revokeKey(args[0]);
        console.log(`revoked key ${r.prefix} at ${r.revokedAt}`);
        return 0;
      }
      case 'list': {
        for (const p of await store.list()) {
          const keys = p.keys.map((k) => `${k.prefix}${k.revokedAt ? ' (revoked)' : ''}`).join(', ') || 'no keys';
          console.log(`${p.name.padEnd(24)} ${p.role.padEnd(11)} ${keys}`);
        }
        return 0;
      }
      default:
        console.error(`unknown command "${cmd}"\n${USAGE}`);
        return 64;
    }
  } finally {
    await ds.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`admin: ${describeStartupError(e)}`);
    process.exit(1);
  },
);
