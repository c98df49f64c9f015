import { ConfigError, loadConfig } from '../../src/config/config.js';

const base = { HSM_PIN: '1234' } as NodeJS.ProcessEnv;

describe('configuration', () => {
  it('applies defaults for the embedded mode', () => {
    const c = loadConfig(base);
    expect(c.PORT).toBe(3000);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.LEDGER_RPC_URL).toBe('http://127.0.0.1:8545');
    expect(c.HSM_TOKEN_LABEL).toBe('privacy-service');
  });

  it.each([
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: 'abc' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ LEDGER_RPC_URL: 'not a url' }, 'LEDGER_RPC_URL'],
    [{ LEDGER_PRIVATE_KEY: '0x1234' }, 'LEDGER_PRIVATE_KEY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HSM_PIN: '1' }, 'HSM_PIN'],
  ])('rejects %o naming the setting', (env, setting) => {
    expect.assertions(3);
    try {
      loadConfig({ ...base, ...env } as NodeJS.ProcessEnv);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).setting).toBe(setting);
      expect((e as Error).message).toMatch(new RegExp(`^configuration error: ${setting} `));
    }
  });

  it('requires the HSM PIN for processes that open the HSM, not for database tools', () => {
    expect(() => loadConfig({})).toThrow('configuration error: HSM_PIN is required but not set');
    expect(loadConfig({}, { requireHsm: false }).HSM_PIN).toBeUndefined();
  });

  it('does not echo a bad private key in the error', () => {
    const secret = '0x' + 'ab'.repeat(31);
    try {
      loadConfig({ ...base, LEDGER_PRIVATE_KEY: secret });
      throw new Error('accepted');
    } catch (e) {
      expect((e as Error).message).not.toContain(secret);
    }
  });
});
