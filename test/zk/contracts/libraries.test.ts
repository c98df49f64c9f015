/**
 * UtcDate (Hinnant's civil_from_days on chain) against known vectors and JavaScript's Date, and
 * CallerChallenge against the same binding computed off chain with ethers.
 */
import type { Contract, JsonRpcProvider, JsonRpcSigner } from 'ethers';
import { yyyymmdd } from '../../../src/zk/circuit-inputs.js';
import { callerChallenge, connectLedger, deploy } from './support.js';

const DAY = 86_400;

let provider: JsonRpcProvider;
let signer: JsonRpcSigner;
let harness: Contract;

beforeAll(async () => {
  provider = connectLedger();
  signer = await provider.getSigner(0);
  harness = (await deploy(signer, 'zk/testing/ZkLibrariesHarness.sol', 'ZkLibrariesHarness')).contract;
});

afterAll(() => {
  provider?.destroy();
});

const onChainDate = async (timestamp: number | bigint): Promise<number> =>
  Number(await harness.getFunction('yyyymmdd')(timestamp));

/** Seconds since the epoch of a UTC date and time. */
const utc = (y: number, m: number, d: number, hh = 0, mm = 0, ss = 0): number => Date.UTC(y, m - 1, d, hh, mm, ss) / 1000;

describe('UtcDate.yyyymmdd', () => {
  it.each([
    [0, 19700101],
    [DAY - 1, 19700101],
    [DAY, 19700102],
    [951782400, 20000229], // 2000 is a leap year (divisible by 400)
    [4107542400, 21000301], // 2100 is not (divisible by 100): 28 February is followed by 1 March
    [4107542400 - 1, 21000228],
    [946684799, 19991231],
    [946684800, 20000101],
    [951868800, 20000301],
    [1709164800, 20240229],
    [1709251200, 20240301],
    [1735689599, 20241231],
    [1735689600, 20250101],
    [1740787199, 20250228],
    [1740787200, 20250301],
    [4102444800, 21000101],
    [13574563200, 24000229], // 2400 is a leap year again
    [253402300799, 99991231],
  ])('%i -> %i', async (timestamp, expected) => {
    expect(await onChainDate(timestamp)).toBe(expected);
    expect(yyyymmdd(new Date(timestamp * 1000))).toBe(expected);
  });

  it('agrees with Date at the first and last second of every month of 1999-2001 and 2099-2101', async () => {
    const timestamps: number[] = [];
    for (const year of [1999, 2000, 2001, 2099, 2100, 2101]) {
      for (let month = 1; month <= 12; month++) {
        const first = utc(year, month, 1);
        timestamps.push(first, first - 1);
      }
    }
    const got = await Promise.all(timestamps.map(onChainDate));
    expect(got).toEqual(timestamps.map((t) => yyyymmdd(new Date(t * 1000))));
  });

  it('agrees with Date on pseudo-random timestamps up to the year 9999', async () => {
    // A fixed linear congruential sequence, so a failure is reproducible.
    let x = 0x2545f491n;
    const max = BigInt(utc(9999, 12, 31, 23, 59, 59));
    const timestamps: number[] = [];
    for (let i = 0; i < 200; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) % (1n << 64n);
      timestamps.push(Number(x % max));
    }
    const got = await Promise.all(timestamps.map(onChainDate));
    expect(got).toEqual(timestamps.map((t) => yyyymmdd(new Date(t * 1000))));
  });

  it('gives the date of the latest block', async () => {
    const block = (await provider.getBlock('latest'))!;
    expect(await onChainDate(block.timestamp)).toBe(yyyymmdd(new Date(block.timestamp * 1000)));
  });
});

describe('CallerChallenge.challengeOf', () => {
  it('equals keccak256(abi.encode(chainId, gate, account)) mod p computed off chain', async () => {
    const { chainId } = await provider.getNetwork();
    const accounts = await Promise.all([0, 1, 2].map(async (i) => (await provider.getSigner(i)).getAddress()));
    const gate = await harness.getAddress();
    for (const [chain, account] of [
      [chainId, accounts[0]!],
      [chainId, accounts[1]!],
      [1n, accounts[1]!],
      [(1n << 256n) - 1n, accounts[2]!],
    ] as const) {
      const expected = callerChallenge(chain, gate, account);
      expect(await harness.getFunction('challengeOf')(chain, gate, account)).toBe(expected);
    }
    // Distinct callers get distinct challenges.
    expect(callerChallenge(chainId, gate, accounts[0]!)).not.toBe(callerChallenge(chainId, gate, accounts[1]!));
  });
});
