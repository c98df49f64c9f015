/**
 * Custom errors of a reverted contract call, decoded with the contract's ABI.
 *
 * ethers decodes a revert itself only on some paths (a call run by the provider); when a signer
 * estimates gas before sending, the error carries just the raw revert data. This reads it from
 * either place. Plain module.
 */
import type { Interface } from 'ethers';

export interface ContractRevert {
  /** Custom error name, e.g. 'ConflictingRoot' ('Error' / 'Panic' for the built-in ones). */
  name: string;
  args: unknown[];
}

/** The decoded revert of `error`, or null when it is not a revert this ABI knows. */
export function decodeRevert(abi: Interface | { interface: Interface }, error: unknown): ContractRevert | null {
  const iface = 'interface' in abi ? abi.interface : abi;
  const e = error as { revert?: { name: string; args: unknown[] } | null; data?: unknown; info?: { error?: { data?: unknown } } } | null;
  if (e?.revert) return { name: e.revert.name, args: [...e.revert.args] };
  for (const data of [e?.data, e?.info?.error?.data]) {
    if (typeof data !== 'string' || data.length < 10) continue;
    try {
      const parsed = iface.parseError(data);
      if (parsed) return { name: parsed.name, args: parsed.args.toArray() };
    } catch {
      // data that does not match the ABI
    }
  }
  return null;
}
