/**
 * Compiled contracts as written by `hardhat build` into artifacts/
 * (artifacts/<source path>/<Contract>.json, one file per contract). Plain module.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { InterfaceAbi } from 'ethers';

export interface ContractArtifact {
  contractName: string;
  /** Source file, e.g. contracts/audit/AuditAnchor.sol */
  sourceName: string;
  abi: InterfaceAbi;
  /** Creation code (0x-prefixed hex). */
  bytecode: string;
  /** Runtime code as compiled, before immutables are filled in (0x-prefixed hex). */
  deployedBytecode: string;
  linkReferences: Record<string, unknown>;
}

/**
 * Read the artifact of `contract`: either a contract name ('AuditAnchor') that must be unique in
 * the project, or a fully qualified name ('contracts/audit/AuditAnchor.sol:AuditAnchor').
 */
export async function readContractArtifact(artifactsDir: string, contract: string): Promise<ContractArtifact> {
  const file = contract.includes(':') ? qualifiedPath(artifactsDir, contract) : await findByName(artifactsDir, contract);
  let artifact: ContractArtifact;
  try {
    artifact = JSON.parse(await readFile(file, 'utf8')) as ContractArtifact;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notCompiled(artifactsDir, contract);
    throw new Error(`cannot read the artifact of ${contract} (${file}): ${(e as Error).message}`);
  }
  if (!Array.isArray(artifact.abi) || typeof artifact.bytecode !== 'string') {
    throw new Error(`${file} is not a contract artifact written by hardhat build`);
  }
  return artifact;
}

function qualifiedPath(artifactsDir: string, qualifiedName: string): string {
  const separator = qualifiedName.lastIndexOf(':');
  const sourceName = qualifiedName.slice(0, separator);
  const contractName = qualifiedName.slice(separator + 1);
  return path.join(artifactsDir, sourceName, `${contractName}.json`);
}

async function findByName(artifactsDir: string, contractName: string): Promise<string> {
  let entries: string[];
  try {
    entries = await readdir(artifactsDir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notCompiled(artifactsDir, contractName);
    throw e;
  }
  const wanted = `${contractName}.json`;
  const matches = entries.filter(
    (entry) =>
      path.basename(entry) === wanted &&
      path.dirname(entry).endsWith('.sol') &&
      !entry.startsWith(`build-info${path.sep}`),
  );
  if (matches.length === 0) throw notCompiled(artifactsDir, contractName);
  if (matches.length > 1) {
    const names = matches.map((m) => `${path.dirname(m).split(path.sep).join('/')}:${contractName}`).sort();
    throw new Error(`several contracts are named ${contractName}; use a fully qualified name: ${names.join(', ')}`);
  }
  return path.join(artifactsDir, matches[0]!);
}

function notCompiled(artifactsDir: string, contract: string): Error {
  return new Error(`contract ${contract} is not compiled (no artifact in ${artifactsDir}); run npx hardhat build`);
}
