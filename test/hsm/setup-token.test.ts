/** hsm/setup-token.sh: a project-local token, created once, PINs only in the 0600 env file. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureLocalToken, parseEnvFile } from '../../src/hsm/local-token.js';

const script = path.resolve('hsm/setup-token.sh');
const base = mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR ?? os.tmpdir(), 'hsm-setup-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function run(dir: string, label?: string): string {
  // env is given explicitly so the child never inherits this process's SOFTHSM2_CONF.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HSM_DIR: dir };
  if (label !== undefined) env.HSM_TOKEN_LABEL = label;
  return execFileSync('bash', [script], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('setup-token.sh', () => {
  const dir = path.join(base, 'a');

  it('creates a token, its configuration and a private env file', () => {
    const out = run(dir);
    expect(out.trim().split('\n')).toEqual([`HSM token "privacy-service" ready in ${dir}/tokens (created)`]);
    const env = parseEnvFile(readFileSync(path.join(dir, 'token.env'), 'utf8'));
    expect(Object.keys(env).sort()).toEqual(['HSM_PIN', 'HSM_SO_PIN', 'HSM_TOKEN_LABEL', 'SOFTHSM2_CONF']);
    expect(env.SOFTHSM2_CONF).toBe(path.join(dir, 'softhsm2.conf'));
    expect(env.HSM_TOKEN_LABEL).toBe('privacy-service');
    expect(env.HSM_PIN).toMatch(/^[0-9a-f]{32}$/);
    expect(env.HSM_SO_PIN).toMatch(/^[0-9a-f]{32}$/);
    expect(env.HSM_PIN).not.toBe(env.HSM_SO_PIN);
    expect(out).not.toContain(env.HSM_PIN);
    expect(statSync(path.join(dir, 'token.env')).mode & 0o777).toBe(0o600);
    const conf = readFileSync(path.join(dir, 'softhsm2.conf'), 'utf8');
    expect(conf).toContain(`directories.tokendir = ${dir}/tokens\n`);
    expect(conf).toContain('objectstore.backend = file\n');
    expect(conf).toContain('log.level = ERROR\n');
  });

  it('keeps the token and its PINs on a second run', () => {
    const before = readFileSync(path.join(dir, 'token.env'), 'utf8');
    expect(run(dir)).toContain('(existing)');
    expect(readFileSync(path.join(dir, 'token.env'), 'utf8')).toBe(before);
    const token = ensureLocalToken({ dir });
    expect(token).toEqual({ confPath: path.join(dir, 'softhsm2.conf'), label: 'privacy-service', pin: parseEnvFile(before).HSM_PIN });
  });

  it('refuses to reuse a folder for a token with another label', () => {
    expect(() => run(dir, 'other-label')).toThrow(/belongs to token "privacy-service"/);
  });

  it('takes its label from HSM_TOKEN_LABEL', () => {
    const other = path.join(base, 'b');
    expect(run(other, 'custody-eu')).toContain('HSM token "custody-eu" ready');
    expect(ensureLocalToken({ dir: other, label: 'custody-eu' }).label).toBe('custody-eu');
  });
});

describe('parseEnvFile', () => {
  it('reads shell single-quoted and bare values', () => {
    expect(parseEnvFile("# comment\nA='x y'\nB='it'\\''s'\nC=plain\n\n")).toEqual({ A: 'x y', B: "it's", C: 'plain' });
  });
});
