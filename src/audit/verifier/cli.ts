/**
 * The standalone audit-log verifier: `npm run audit:verify -- <options>` (see USAGE in
 * options.ts and docs/audit-log.md, "Standalone verifier").
 *
 * It shares nothing with the service but the cryptographic core in ../crypto: no framework, no
 * database, no HSM. It reads the public audit API and/or saved files, and a ledger node through
 * ethers, and trusts only the log's public key. Exit codes: 0 verified, 1 a check failed,
 * 2 usage error.
 */
import { UsageError, USAGE, parseVerifierOptions } from './options.js';
import { VerificationReport } from './report.js';
import { verifyLog } from './verify-log.js';

const EXIT_VERIFIED = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

async function main(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseVerifierOptions(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`audit-verify: ${error.message}\n(run with --help for the options)\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_VERIFIED;
  }
  const report = new VerificationReport();
  await verifyLog(options, report);
  process.stdout.write(`${options.json ? JSON.stringify(report.toJSON(), null, 2) : report.toText()}\n`);
  return report.ok ? EXIT_VERIFIED : EXIT_FAILED;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A bug, not a verdict: one line, no stack trace.
    process.stderr.write(`audit-verify: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT_FAILED);
  },
);
