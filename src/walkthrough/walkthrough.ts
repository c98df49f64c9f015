/**
 * The scripted walkthrough run by embedded mode against the live API. Each capability adds a
 * chapter. It talks HTTP like any client would; only the first admin key is made in-process
 * (as the admin CLI would), because nobody holds a key yet.
 */
import type { INestApplication } from '@nestjs/common';
import { AuthService } from '../auth/auth.service.js';
import { runChapters } from './chapters.js';
import { http } from './http.js';



export interface WalkthroughContext {
  app: INestApplication;
  baseUrl: string;
  log: (line: string) => void;
}

export async function runWalkthrough(ctx: WalkthroughContext): Promise<void> {
  const { app, baseUrl, log } = ctx;
  const section = (t: string) => log(`\n== ${t} ==`);

  section('1. readiness');
  const ready = await http(baseUrl, 'GET', '/ready');
  for (const c of ['database', 'hsm', 'ledger'] as const) {
    const s = ready.body[c];
    const detail = s.detail ?? (s.chainId ? `chain ${s.chainId}, block ${s.blockNumber}` : undefined);
    log(`  ${c.padEnd(8)} ${s.status}${detail ? `  (${detail})` : ''}`);
  }
  if (ready.status !== 200) throw new Error(`the service is not ready: ${JSON.stringify(ready.body)}`);

  section('2. principals and API keys');
  const store = app.get(AuthService);
  const suffix = Date.now().toString(36);
  const admin = `admin-${suffix}`;
  await store.createPrincipal(admin, 'admin', 'embedded-walkthrough');
  const adminKey = (await store.issueKey(admin, 'embedded-walkthrough')).key;
  log(`  admin principal ${admin} created; its key is held by this walkthrough only`);
  const walletName = `wallet-${suffix}`;
  const created = await http(baseUrl, 'POST', '/admin/principals', { key: adminKey, body: { name: walletName, role: 'wallet-app' } });
  log(`  POST /admin/principals (admin)            -> ${created.status} ${created.body.name} (${created.body.role})`);
  const issued = await http(baseUrl, 'POST', `/admin/principals/${walletName}/keys`, { key: adminKey });
  log(`  POST /admin/principals/${walletName}/keys -> ${issued.status} key prefix ${issued.body.prefix}`);
  const walletKey: string = issued.body.key;

  section('3. errors are application/problem+json');
  const noKey = await http(baseUrl, 'GET', '/admin/principals');
  log(`  no key            -> ${noKey.status} ${noKey.contentType.split(';')[0]}: ${noKey.body.detail}`);
  const wrongRole = await http(baseUrl, 'GET', '/admin/principals', { key: walletKey });
  log(`  wallet-app key    -> ${wrongRole.status}: ${wrongRole.body.detail}`);
  const badBody = await http(baseUrl, 'POST', '/admin/principals', { key: adminKey, body: { name: 'Bad Name!', role: 'root' } });
  log(`  invalid body      -> ${badBody.status}: ${badBody.body.detail}`);

  await runChapters({ ...ctx, adminKey, walletKey, section });
}
