/**
 * startLocalLedgerNode: starts a `hardhat node`, refuses an occupied port unless told to reuse
 * the node already there, and stops the whole process group.
 */
import net from 'node:net';
import { startLocalLedgerNode, type LocalLedgerNode } from '../../src/ledger/local-node.js';
import { ROOT, freePort } from './support.js';

async function chainId(url: string): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
  });
  return ((await res.json()) as { result: string }).result;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startLocalLedgerNode', () => {
  let node: LocalLedgerNode | undefined;

  afterEach(async () => {
    await node?.stop();
    node = undefined;
  });

  it('starts a node that answers JSON-RPC, and stops it', async () => {
    const port = await freePort();
    node = await startLocalLedgerNode({ port, cwd: ROOT });
    expect(node).toMatchObject({ url: `http://127.0.0.1:${port}`, reused: false });
    expect(await chainId(node.url)).toBe('0x7a69'); // 31337

    const pid = node.pid!;
    await node.stop();
    expect(isAlive(pid)).toBe(false);
    await expect(chainId(node.url)).rejects.toThrow();
    await node.stop(); // stopping twice is harmless
  });

  it('refuses a port held by a running node unless asked to reuse it', async () => {
    const port = await freePort();
    node = await startLocalLedgerNode({ port, cwd: ROOT });
    await expect(startLocalLedgerNode({ port, cwd: ROOT })).rejects.toThrow(
      new RegExp(`port ${port} is in use by a JSON-RPC node \\(chain id 31337\\); stop it or pass reuseExisting: true`),
    );

    const reused = await startLocalLedgerNode({ port, cwd: ROOT, reuseExisting: true });
    expect(reused).toMatchObject({ url: node.url, reused: true, pid: undefined });
    await reused.stop(); // leaves the node it did not start running
    expect(await chainId(node.url)).toBe('0x7a69');
  });

  it('refuses a port held by another program', async () => {
    const port = await freePort();
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      await expect(startLocalLedgerNode({ port, cwd: ROOT, reuseExisting: true })).rejects.toThrow(
        `port ${port} is in use by another program`,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('explains a node that cannot start, with the tail of its output', async () => {
    const port = await freePort();
    // A folder without a Hardhat project: the CLI exits with an error message.
    await expect(startLocalLedgerNode({ port, cwd: '/', startTimeoutMs: 5000 })).rejects.toThrow(/Hardhat is not installed in \//);
  });
});
