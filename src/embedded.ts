/**
 * Embedded mode: everything on one machine with no servers to install.
 *   - database: PGlite persisted in DATA_DIR (default ./data)
 *   - HSM:      a project-local SoftHSM2 token in ./hsm (created on first run)
 *   - ledger:   a local Hardhat node on 127.0.0.1:8545, started and stopped with the service
 *   - workers:  job handlers run inside the API process (PGlite is single-process)
 *   - custody:  three signer node processes on loopback ports, each with its own SoftHSM2 token
 *               (hsm/signers/<id>/) and PGlite folder (DATA_DIR/signers/<id>)
 * Then a short walkthrough runs against the live API, and the service keeps serving until Ctrl-C
 * (or exits after the walkthrough when EXIT_AFTER_WALKTHROUGH=1).
 */
import 'reflect-metadata';
import path from 'node:path';
import { ensureLocalToken } from './hsm/local-token.js';
import { startLocalLedgerNode } from './ledger/local-node.js';
import { loadConfig } from './config/config.js';
import { createApp } from './app.js';
import { describeStartupError } from './common/startup-error.js';
import { runWalkthrough } from './walkthrough/walkthrough.js';
import { startBackgroundWork } from './background.js';
import { HsmService } from './hsm/hsm.service.js';
import { COORDINATOR_KEY_LABEL } from './custody/service/custody-wallet.service.js';
import { freeLoopbackPort, startLocalSignerNodes, type LocalSignerNodes } from './custody/signer/local-nodes.js';

const step = (msg: string) => console.log(`\x1b[1m[embedded]\x1b[0m ${msg}`);

async function main(): Promise<void> {
  const root = process.cwd();
  if (process.env.DATABASE_URL) step('DATABASE_URL is set: using PostgreSQL instead of the embedded PGlite database');

  step('HSM: project-local SoftHSM2 token in hsm/');
  const token = await ensureLocalToken({ dir: path.join(root, 'hsm'), label: process.env.HSM_TOKEN_LABEL ?? 'privacy-service' });
  process.env.SOFTHSM2_CONF = token.confPath;
  process.env.HSM_TOKEN_LABEL = token.label;
  process.env.HSM_PIN ??= token.pin;

  let ledger: { url: string; stop(): Promise<void> } | undefined;
  if (!process.env.LEDGER_RPC_URL) {
    step('ledger: starting a local Hardhat node on 127.0.0.1:8545');
    ledger = await startLocalLedgerNode({ port: 8545, cwd: root });
    process.env.LEDGER_RPC_URL = ledger.url;
  }
  // Keep the terminal readable: the walkthrough prints what happens; warnings and errors still log.
  process.env.LOG_LEVEL ??= 'warn';

  const signerIds = ['node-1', 'node-2', 'node-3'];
  // Unless signer nodes are configured elsewhere, three local nodes on free loopback ports.
  const localSigners = !process.env.CUSTODY_SIGNER_URLS;
  const signerPorts: number[] = [];
  if (localSigners) {
    for (let i = 0; i < signerIds.length; i++) signerPorts.push(await freeLoopbackPort());
    process.env.CUSTODY_SIGNER_URLS = signerPorts.map((p) => `http://127.0.0.1:${p}`).join(',');
  }

  const config = loadConfig();
  step(`database: ${config.DATABASE_URL ? 'PostgreSQL' : `PGlite in ${path.relative(root, config.DATA_DIR) || '.'}/pglite`}`);
  const app = await createApp(config);
  await app.init();

  let signers: LocalSignerNodes | undefined;
  if (localSigners) {
    step(`custody: starting ${signerIds.length} signer nodes (tokens in hsm/signers/, databases in ${path.relative(root, path.join(config.DATA_DIR, 'signers')) || '.'})`);
    try {
      const { publicKey } = await app.get(HsmService).ensureEcKeyPair(COORDINATOR_KEY_LABEL, 'P-256');
      signers = await startLocalSignerNodes({
        ids: signerIds,
        ports: signerPorts,
        coordinatorPublicKeyHex: Buffer.from(publicKey).toString('hex'),
        hsmDir: path.join(root, 'hsm', 'signers'),
        dataDir: path.join(config.DATA_DIR, 'signers'),
      });
    } catch (e) {
      await app.close().catch(() => undefined);
      await ledger?.stop().catch(() => undefined);
      throw e;
    }
  }
  await app.listen(config.PORT, config.HOST);
  await startBackgroundWork(app);
  const url = `http://${config.HOST}:${config.PORT}`;

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    step('stopping');
    await app.close().catch(() => undefined);
    await signers?.stop().catch(() => undefined);
    await ledger?.stop().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  await runWalkthrough({ app, baseUrl: url, log: (m) => console.log(m) });

  console.log(`\nAPI  ${url}\nDocs ${url}/docs  (OpenAPI JSON: ${url}/docs/openapi.json)\nReady ${url}/ready`);
  if (process.env.EXIT_AFTER_WALKTHROUGH === '1') return stop(0);
  step('serving; press Ctrl-C to stop');
}

main().catch((e: unknown) => {
  console.error(`privacy-service: ${describeStartupError(e)}`);
  process.exit(1);
});
