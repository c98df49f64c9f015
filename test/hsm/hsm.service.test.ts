/** HsmService in a Nest application context: opens from APP_CONFIG, reports health, closes on shutdown. */
import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/config.js';
import { HsmModule } from '../../src/hsm/hsm.module.js';
import { HsmService } from '../../src/hsm/hsm.service.js';
import { SOFTHSM_MODULE, testToken, uniqueLabel } from './support.js';

const token = testToken();

function context(env: Record<string, string> = {}): Promise<INestApplicationContext> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HSM_MODULE: SOFTHSM_MODULE,
    HSM_TOKEN_LABEL: token.label,
    HSM_PIN: token.pin,
    HSM_SESSIONS: '2',
    ...env,
  });
  @Module({ imports: [ConfigModule.forRoot(config), HsmModule] })
  class TestModule {}
  return NestFactory.createApplicationContext(TestModule, { logger: false, abortOnError: false });
}

describe('HsmService', () => {
  it('opens the token from configuration, serves operations and closes on shutdown', async () => {
    const app = await context();
    const hsm = app.get(HsmService);
    try {
      expect(await hsm.health()).toEqual({ status: 'ok', detail: `token "${token.label}", 0/2 sessions busy` });

      const kek = uniqueLabel('test-service-kek');
      await hsm.ensureAesKey(kek);
      const envelope = await hsm.seal(kek, Buffer.from('record'), { subject: 's-1' });
      expect((await hsm.open(envelope, { subject: 's-1' })).toString()).toBe('record');

      const signer = uniqueLabel('test-service-ec');
      const { publicKey } = await hsm.ensureEcKeyPair(signer, 'P-256');
      expect(await hsm.getEcPublicKey(signer)).toEqual(publicKey);
    } finally {
      await app.close();
    }
    const health = await hsm.health();
    expect(health.status).toBe('down');
    expect(health.detail).toBe('the HSM client is closed');
  });

  it('fails start-up on a wrong PIN with a message that does not contain it', async () => {
    const wrong = 'wrong-pin-0000';
    const failure = await context({ HSM_PIN: wrong }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).toBe(`HSM login failed: the PIN for token "${token.label}" is incorrect (CKR_PIN_INCORRECT)`);
    expect(failure?.message).not.toContain(wrong);
  });

  it('does not guess a SoftHSM2 configuration', async () => {
    const saved = process.env.SOFTHSM2_CONF;
    delete process.env.SOFTHSM2_CONF;
    try {
      await expect(context()).rejects.toMatchObject({ code: 'HSM_CONFIG_MISSING' });
    } finally {
      process.env.SOFTHSM2_CONF = saved;
    }
  });
});
