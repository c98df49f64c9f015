/** docker-compose.yml (the production topology) must stay valid. Needs Debian's docker-compose. */
import { spawnSync } from 'node:child_process';

const available = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const env = {
  ...process.env,
  POSTGRES_PASSWORD: 'x', LEDGER_PRIVATE_KEY: '0x' + '11'.repeat(32), HSM_PIN: 'x',
  SIGNER1_HSM_PIN: 'x', SIGNER2_HSM_PIN: 'x', SIGNER3_HSM_PIN: 'x', CUSTODY_COORDINATOR_PUBKEY: '04' + 'ab'.repeat(64),
};

(available ? describe : describe.skip)('docker-compose.yml (requires docker-compose)', () => {
  it('validates and describes postgres, ledger, api, worker and three signer nodes', () => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], { env, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['api', 'ledger', 'postgres', 'signer-1', 'signer-2', 'signer-3', 'worker']);
  });
  it('refuses to render without the secrets it needs', () => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set POSTGRES_PASSWORD|set LEDGER_PRIVATE_KEY|set HSM_PIN/);
  });
});
