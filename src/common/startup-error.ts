/** One-line description of a start-up failure, without stack traces or secrets. */
export function describeStartupError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // Strip credentials from any URL that a lower layer may have echoed.
  return msg.replace(/(\w+:\/\/)[^@\s/]+@/g, '$1***@').split('\n')[0]!;
}
