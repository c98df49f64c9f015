import { BadRequestException, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { ProblemFilter } from '../../src/common/problem.filter.js';
import { PROBLEM_TYPE_BASE, conflict } from '../../src/common/problem.js';
import { generateApiKey, hashApiKey, parseApiKey } from '../../src/auth/api-key-format.js';

describe('problem details (RFC 9457)', () => {
  const f = new ProblemFilter();
  it('maps HTTP exceptions with the status, title and detail', () => {
    expect(f.toProblem(new UnauthorizedException('an API key is required'))).toMatchObject({
      status: 401, title: 'Unauthorized', detail: 'an API key is required', type: PROBLEM_TYPE_BASE + 'unauthorized',
    });
    expect(f.toProblem(new ForbiddenException('no')).status).toBe(403);
  });
  it('keeps field errors of a validation failure', () => {
    const p = f.toProblem(new BadRequestException({ detail: 'bad', errors: [{ field: 'name', message: 'too short' }] }));
    expect(p).toMatchObject({ status: 400, type: PROBLEM_TYPE_BASE + 'validation-failed', errors: [{ field: 'name', message: 'too short' }] });
  });
  it('maps domain errors and hides internals of unknown errors', () => {
    expect(f.toProblem(conflict('exists'))).toMatchObject({ status: 409, detail: 'exists' });
    const p = f.toProblem(new Error('connection string postgres://u:secret@h/db failed'));
    expect(p.status).toBe(500);
    expect(JSON.stringify(p)).not.toContain('secret');
  });
  it('maps body-parser failures to 400', () => {
    expect(f.toProblem({ status: 400, type: 'entity.parse.failed', message: 'Unexpected token' })).toMatchObject({
      status: 400, detail: 'the request body is not valid JSON',
    });
  });
});

describe('API key format', () => {
  it('generates parseable keys whose hash is stable and whose prefix is public', () => {
    const k = generateApiKey();
    expect(parseApiKey(k.key)).toEqual({ prefix: k.prefix });
    expect(hashApiKey(k.key).equals(k.hash)).toBe(true);
    expect(k.hash.toString('hex')).not.toContain(k.key.slice(14));
    expect(generateApiKey().key).not.toBe(k.key);
  });
  it('rejects malformed keys', () => {
    for (const bad of ['', 'psk_', 'psk_zzzzzzzz_' + 'a'.repeat(43), 'psk_0123abcd_short', 'Bearer x']) {
      expect(parseApiKey(bad)).toBeNull();
    }
  });
});
