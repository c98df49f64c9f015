/**
 * Worker thread body: builds a baby-step table (tens of seconds for 2^22 entries) so the
 * service's event loop keeps answering requests meanwhile, and hands its typed arrays back
 * without copying (transferred buffers).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DiscreteLogTable } from '../crypto/index.js';

const { babySteps } = workerData as { babySteps: number };
const snapshot = DiscreteLogTable.build(babySteps).snapshot();
parentPort!.postMessage({ babySteps, keys: snapshot.keys, values: snapshot.values }, [snapshot.keys.buffer as ArrayBuffer, snapshot.values.buffer as ArrayBuffer]);
