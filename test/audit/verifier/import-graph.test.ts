/**
 * The verifier must stay standalone (STYLE.md, the transparency-log lesson): everything it runs
 * is the cryptographic core, ethers and Node's built-ins. If a change makes cli.ts reach the
 * database, the HSM, Nest or TypeORM, this fails and names the path.
 */
import { CLI_SOURCE, importGraph } from './support.js';

const graph = importGraph(CLI_SOURCE);

describe("the verifier's import graph", () => {
  it('does not reach the database, the HSM, Nest or TypeORM', () => {
    const forbidden = [
      ...graph.files.filter((f) => f.startsWith('src/db/') || f.startsWith('src/hsm/')),
      ...graph.packages.filter((p) => p.startsWith('@nestjs/') || p === 'typeorm'),
    ];
    expect(forbidden).toEqual([]);
  });

  it('is only the crypto core and the verifier itself, ethers and node built-ins', () => {
    const outside = graph.files.filter((f) => !f.startsWith('src/audit/crypto/') && !f.startsWith('src/audit/verifier/'));
    expect(outside).toEqual([]);
    // The crypto core's own dependencies (noble and a JCS implementation) come with it.
    expect(graph.packages.filter((p) => !['ethers', '@noble/curves', '@noble/hashes', 'canonicalize'].includes(p))).toEqual([]);
    expect(graph.packages).toContain('ethers');
    expect(graph.builtins.every((b) => b.startsWith('node:'))).toBe(true);
  });

  it('is followed through every file (sanity check of the walk)', () => {
    expect(graph.files).toEqual(expect.arrayContaining([CLI_SOURCE, 'src/audit/crypto/index.ts', 'src/audit/crypto/verifier.ts']));
  });
});
