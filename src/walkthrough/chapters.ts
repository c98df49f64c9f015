/** Walkthrough chapters added by the capabilities, in order. */
import type { WalkthroughContext } from './walkthrough.js';
import { auditChapter } from './audit-chapter.js';

export interface ChapterContext extends WalkthroughContext {
  adminKey: string;
  section: (title: string) => void;
}

export async function runChapters(ctx: ChapterContext): Promise<void> {
  await auditChapter(ctx);
}
