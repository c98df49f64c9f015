/**
 * A bad setting stops start-up with one clear line and no stack trace. Runs the built entry point
 * (dist/, produced by `./run test` before the suite) as a separate process, as an operator would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const entry = path.resolve('dist/src/main.js');

function start(env: Record<string, string | undefined>) {
  const r = spawnSync(process.execPath, [entry], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: path.join(process.env.TEST_SCRATCH_DIR!, 'startup'), ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  return { status: r.status, lines, stderr: r.stderr, stdout: r.stdout };
}

beforeAll(() => {
  if (!existsSync(entry)) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (./run test does it)');
});

describe('start-up failures are one clear line', () => {
  it('a missing HSM PIN', () => {
    const r = start({ HSM_PIN: undefined });
    expect(r.status).toBe(1);
    expect(r.lines).toEqual(['privacy-service: configuration error: HSM_PIN is required but not set (the embedded launcher reads it from hsm/token.env)']);
  });

  it('a malformed setting', () => {
    const r = start({ PORT: 'eighty' });
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^privacy-service: configuration error: PORT /);
  });

  it('a wrong HSM PIN', () => {
    const r = start({ HSM_PIN: 'wrong-pin-0000' });
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/PIN/);
    expect(r.stderr).not.toContain('wrong-pin-0000');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable database', () => {
    const r = start({ DATABASE_URL: 'postgres://someone:hunter22@127.0.0.1:1/nowhere' });
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/127\.0\.0\.1:1/);
    expect(r.stderr).not.toContain('hunter22');
  });
});
