/**
 * The signer node's HTTP API (node:http, JSON). Every POST carries a coordinator-signed request
 * (message-auth.ts) and every POST answer, errors included, is signed by the node's HSM key.
 *
 *   GET  /health          liveness, unsigned
 *   GET  /identity        node id, FROST identifier, P-256 public key (pinned by the coordinator)
 *   POST /dkg/round1 | /dkg/round2 | /dkg/finalise | /sign/commit | /sign/share
 *   POST /reshare/prepare | /reshare/deal | /reshare/stage | /reshare/commit | /reshare/abort
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_CLOCK_SKEW_MS, signMessage, verifyMessage, type MessageSigner, type RequestPayload, type ResponsePayload, type SignedMessage } from './message-auth.js';
import { SignerError, type SignerNode } from './signer-node.js';
import type { SignerStore } from './signer-store.js';

const MAX_BODY_BYTES = 1024 * 1024;
const POST_PATHS = new Set([
  '/dkg/round1', '/dkg/round2', '/dkg/finalise', '/sign/commit', '/sign/share',
  '/reshare/prepare', '/reshare/deal', '/reshare/stage', '/reshare/commit', '/reshare/abort',
]);

export interface SignerServerOptions {
  node: SignerNode;
  store: SignerStore;
  identity: MessageSigner;
  coordinatorPublicKey: Uint8Array;
  log?: (line: string) => void;
}

export function createSignerServer(options: SignerServerOptions): http.Server {
  const { node, store, identity, coordinatorPublicKey } = options;
  const log = options.log ?? (() => undefined);
  // One request at a time per node: DKG steps and nonce use are short, and ordering keeps the node simple.
  let queue: Promise<unknown> = Promise.resolve();

  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const sendJson = (status: number, value: unknown) => {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'GET' && path === '/health') return sendJson(200, { status: 'ok', nodeId: node.nodeId });
    if (req.method === 'GET' && path === '/identity') {
      return sendJson(200, { nodeId: node.nodeId, identifier: node.identifier, curve: 'P-256', publicKey: Buffer.from(identity.publicKey).toString('hex') });
    }
    if (req.method !== 'POST' || !POST_PATHS.has(path)) return sendJson(404, { error: 'not-found', message: `no endpoint ${req.method} ${path}` });

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const work = queue.then(async () => {
        let inReplyTo = '';
        const reply = async (status: number, body: unknown) => {
          const payload: ResponsePayload = { nodeId: node.nodeId, inReplyTo, timestamp: Date.now(), status, body };
          sendJson(status, await signMessage(identity, payload));
        };
        try {
          if (size > MAX_BODY_BYTES) throw new SignerError(413, 'too-large', `the request is larger than ${MAX_BODY_BYTES} bytes`);
          let message: SignedMessage<RequestPayload>;
          try {
            message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SignedMessage<RequestPayload>;
          } catch {
            throw new SignerError(400, 'bad-request', 'the request is not JSON');
          }
          const p = message?.payload;
          if (p === null || typeof p !== 'object' || typeof p.messageId !== 'string' || !/^[0-9a-f-]{36}$/.test(p.messageId) ||
              typeof p.nodeId !== 'string' || typeof p.timestamp !== 'number' || typeof p.path !== 'string') {
            throw new SignerError(400, 'bad-request', 'the request must be {payload: {nodeId, messageId, timestamp, path, body}, signature}');
          }
          if (!verifyMessage(message, coordinatorPublicKey)) {
            throw new SignerError(401, 'bad-signature', `request ${p.messageId} rejected: its signature does not verify against the coordinator key (sender: the coordinator, as claimed)`);
          }
          inReplyTo = p.messageId;
          if (p.nodeId !== node.nodeId) throw new SignerError(400, 'wrong-node', `request ${p.messageId} is addressed to node ${p.nodeId}, not ${node.nodeId}`);
          if (p.path !== path) throw new SignerError(400, 'wrong-endpoint', `request ${p.messageId} was signed for ${p.path}, not ${path}`);
          if (Math.abs(Date.now() - p.timestamp) > MAX_CLOCK_SKEW_MS) {
            throw new SignerError(401, 'stale', `request ${p.messageId} is outside the ${MAX_CLOCK_SKEW_MS / 1000} s time window`);
          }
          if (!(await store.rememberMessage(p.messageId, 2 * MAX_CLOCK_SKEW_MS))) {
            throw new SignerError(409, 'replay', `request ${p.messageId} was already received: replay refused`);
          }
          await reply(200, await node.handle(path, p.body));
        } catch (error) {
          if (error instanceof SignerError) {
            log(`${path}: ${error.status} ${error.code}`);
            await reply(error.status, { error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });
          } else {
            // Never echo unexpected errors: they might carry data the node holds.
            log(`${path}: internal error ${(error as Error)?.name ?? 'Error'}`);
            await reply(500, { error: 'internal', message: `node ${node.nodeId} failed to process the request` });
          }
        }
      });
      queue = work.catch(() => undefined);
      work.catch(() => {
        if (!res.headersSent) sendJson(500, { error: 'internal', message: 'the node could not sign its answer' });
      });
    });
    return undefined;
  });
}

export async function listen(server: http.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
