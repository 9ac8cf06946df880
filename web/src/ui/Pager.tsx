import type { Pager as PagerState } from '../lib/paging';

/** Previous / next buttons over a cursor-paged list. */
export function Pager({ id, label, pager, onBack, onForward, busy }: { id: string; label: string; pager: PagerState; onBack: () => void; onForward: () => void; busy: boolean }) {
  return (
    <nav class="pager" aria-label={label} id={id}>
      <button type="button" onClick={onBack} disabled={busy || pager.index === 0}>
        Previous page
      </button>
      <span>Page {pager.index + 1}</span>
      <button type="button" onClick={onForward} disabled={busy || !pager.next}>
        Next page
      </button>
    </nav>
  );
}
