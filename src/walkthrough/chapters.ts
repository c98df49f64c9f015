/** Walkthrough chapters added by the capabilities (audit, proofs, custody, analytics). */
import type { WalkthroughContext } from './walkthrough.js';

export interface ChapterContext extends WalkthroughContext {
  adminKey: string;
  section: (title: string) => void;
}

export async function runChapters(_ctx: ChapterContext): Promise<void> {
  // Capabilities append their chapters here.
}
