/** Walkthrough chapters added by the capabilities, in order. */
import type { WalkthroughContext } from './walkthrough.js';
import { analyticsChapter } from './analytics-chapter.js';
import { auditChapter } from './audit-chapter.js';
import { custodyChapter } from './custody-chapter.js';
import { zkChapter } from './zk-chapter.js';

export interface ChapterContext extends WalkthroughContext {
  adminKey: string;
  walletKey: string;
  section: (title: string) => void;
}

export async function runChapters(ctx: ChapterContext): Promise<void> {
  await zkChapter(ctx);
  await custodyChapter(ctx);
  await analyticsChapter(ctx);
  await auditChapter(ctx);
}
