/**
 * Hardhat 3 configuration: compiles contracts/ (audit anchor and the generated Groth16 verifiers)
 * and serves the local development ledger (`npm run ledger:node`).
 *
 * The compiler is the solc-js build shipped by the pinned npm `solc` package, so `hardhat build`
 * never downloads a compiler and works offline. Keep the `solc` package pinned to SOLC_VERSION.
 */
import { createRequire } from 'node:module';
import { defineConfig } from 'hardhat/config';

const SOLC_VERSION = '0.8.28';

const require = createRequire(import.meta.url);
const solcJsPath = require.resolve('solc/soljson.js');

const compiler = {
  version: SOLC_VERSION,
  path: solcJsPath,
  settings: {
    optimizer: { enabled: true, runs: 200 },
  },
};

export default defineConfig({
  solidity: {
    // Same compiler and settings for `hardhat build` and `hardhat build --build-profile production`,
    // so the bytecode the service deploys is identical whichever profile produced it.
    profiles: {
      default: compiler,
      production: compiler,
    },
  },
  paths: {
    sources: './contracts',
    artifacts: './artifacts',
    cache: './cache',
  },
  networks: {
    // In-process simulated chain (used by `hardhat node` and by tasks run without --network).
    default: {
      type: 'edr-simulated',
      chainType: 'l1',
    },
    // A `hardhat node` (or any EVM JSON-RPC endpoint) on this machine.
    localhost: {
      type: 'http',
      chainType: 'l1',
      url: 'http://127.0.0.1:8545',
    },
  },
});
