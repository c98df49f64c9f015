/** The wallet SDK: client-side proving against the zk service's published artifacts and paths. */
export * from './wallet-client.js';
