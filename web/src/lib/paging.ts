// Cursor paging over the origin's lists: the origin hands out an opaque `next_cursor` per page,
// so going back means remembering the cursors that led to each page.

export interface Pager {
  /** The cursor of each page seen so far; the first page has none. */
  cursors: (string | null)[];
  /** Which of them is shown. */
  index: number;
  /** The shown page's `next_cursor` (null on the last page). */
  next: string | null;
}

export const firstPage = (): Pager => ({ cursors: [null], index: 0, next: null });

/** The pager once the shown page has answered with `next`. */
export const answered = (p: Pager, next: string | null): Pager => ({ ...p, next });

/** Forward one page (only when there is a next cursor). */
export function forward(p: Pager): Pager {
  if (!p.next) return p;
  return { cursors: [...p.cursors.slice(0, p.index + 1), p.next], index: p.index + 1, next: null };
}

/** Back one page (the cursors already seen are kept, so going forward again reuses them). */
export function back(p: Pager): Pager {
  return p.index === 0 ? p : { ...p, index: p.index - 1, next: p.cursors[p.index] };
}

/** The cursor to request for the shown page. */
export const cursorOf = (p: Pager): string | null => p.cursors[p.index];
