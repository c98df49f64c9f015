/**
 * Usage errors of the standalone verifier: exit code 2, one clear line on stderr, nothing on
 * stdout, no stack trace; --help prints the usage and exits 0. Runs the compiled command.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureVerifierBuilt, runVerifier, type CliRun } from './support.js';

let dir: string;

beforeAll(async () => {
  await ensureVerifierBuilt();
  dir = mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR!, 'verifier-usage-'));
});

const URL = 'http://127.0.0.1:9';

function expectUsageError(run: CliRun, message: RegExp): void {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(message) });
  expect(run.stderr).toMatch(/^audit-verify: /);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).toBe('');
}

describe('audit:verify usage', () => {
  it('--help prints the usage and exits 0', async () => {
    const run = await runVerifier(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm run audit:verify -- \[options\]/);
    expect(run.stdout).toContain('Exit codes: 0');
  });

  it.each<[string, string[], RegExp]>([
    ['no options at all', [], /no trusted key: give --public-key/],
    ['an unknown option', ['--url', URL, '--bogus'], /Unknown option '--bogus'/],
    ['a positional argument', ['--url', URL, 'extra'], /Unexpected argument 'extra'/],
    ['an option without its value', ['--url'], /--url/],
    ['a seq that is not a number', ['--url', URL, '--seq', 'abc', '--api-key', 'k'], /--seq must be an integer >= 0, got "abc"/],
    ['an old size of 0', ['--url', URL, '--old-size', '0'], /--old-size must be an integer >= 1/],
    ['a malformed leaf hash', ['--url', URL, '--leaf-hash', 'xyz'], /--leaf-hash must be 64 hex digits/],
    ['--seq and --leaf-hash together', ['--url', URL, '--seq', '1', '--leaf-hash', 'ab'.repeat(32)], /one of --seq or --leaf-hash/],
    ['a URL that is not http', ['--url', 'ftp://example.org'], /--url must be an http/],
    ['--seq with no way to get the event', ['--url', URL, '--seq', '3'], /to check event 3, give the event \(--event <file.json>\) or an API key/],
    ['--contract without --rpc', ['--url', URL, '--contract', '0x' + '11'.repeat(20)], /--contract needs --rpc/],
    ['a --public-key file that does not exist', ['--public-key', 'x.pem', '--rpc', URL], /cannot read --public-key x.pem: no such file/],
    ['a malformed contract address', ['--url', URL, '--rpc', URL, '--contract', '0x1234'], /--contract "0x1234" is not an address/],
  ])('%s: exit 2', async (_name, args, message) => {
    expectUsageError(await runVerifier(args), message);
  });

  it('files that are missing, not JSON, not a key, or not a proof are usage errors', async () => {
    const notJson = path.join(dir, 'not.json');
    writeFileSync(notJson, '{"treeSize": ');
    const notPem = path.join(dir, 'key.pem');
    writeFileSync(notPem, 'not a key');
    const notProof = path.join(dir, 'proof.json');
    writeFileSync(notProof, JSON.stringify({ hello: 'world' }));
    expectUsageError(await runVerifier(['--url', URL, '--checkpoint', path.join(dir, 'missing.json')]), /cannot read --checkpoint .*missing\.json: no such file/);
    expectUsageError(await runVerifier(['--url', URL, '--checkpoint', notJson]), /--checkpoint .*not\.json is not JSON/);
    expectUsageError(await runVerifier(['--url', URL, '--public-key', notPem]), /--public-key .*key\.pem: the public key is not a PEM/);
    expectUsageError(await runVerifier(['--url', URL, '--leaf-hash', 'ab'.repeat(32), '--proof', notProof]), /is neither an inclusion proof/);
  });

  it('offline use needs the files that replace the service', async () => {
    const checkpoint = path.join(dir, 'checkpoint.json');
    writeFileSync(checkpoint, JSON.stringify({ treeSize: 3 }));
    const key = path.join(dir, 'trusted.pem');
    writeFileSync(key, '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECW9Xma2J4IDf99tYOngeGWCx5qoU\nR7CTyrTn4EmKHMEmG22oCjqZGGoJUr+kPl1kUL9EpygXyXEZhERiNucwTA==\n-----END PUBLIC KEY-----\n');
    expectUsageError(await runVerifier(['--public-key', key]), /nothing to verify: give --url, or a saved --checkpoint/);
    expectUsageError(await runVerifier(['--public-key', key, '--checkpoint', checkpoint, '--leaf-hash', 'ab'.repeat(32)]), /without --url, give its inclusion proof/);
    expectUsageError(await runVerifier(['--public-key', key, '--checkpoint', checkpoint, '--old-size', '2']), /without --url, give --old-checkpoint/);
    expectUsageError(await runVerifier(['--public-key', key, '--checkpoint', checkpoint, '--rpc', URL]), /--rpc needs --contract/);
  });
});
