// RFC 9457 problem documents from the edge and the origin, turned into what a page shows: the
// `title` and `detail`, and the form field a 400 names.

export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** The request field a 400 names (`value`, `plan.burst`, `cursor`, ...). */
  field?: string;
  /** Seconds from a `Retry-After` header, when the answer had one. */
  retryAfter?: number;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/**
 * The problem an answer carries. Bodies that are not problem documents (an HTML error page from
 * some proxy, an empty body) still give a title from the status.
 */
export function problemFrom(status: number, statusText: string, body: unknown, retryAfter?: string | null): Problem {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const p: Problem = {
    status,
    title: text(b.title) ?? (text(statusText) || `HTTP ${status}`),
    detail: text(b.detail) ?? '',
  };
  const field = text(b.field);
  if (field) p.field = field;
  const wait = retryAfter ? Number(retryAfter) : NaN;
  if (Number.isInteger(wait) && wait >= 0) p.retryAfter = wait;
  return p;
}

/** A problem for a request that never got an answer (offline, connection reset). */
export function networkProblem(err: unknown): Problem {
  return { status: 0, title: 'No answer', detail: `The request did not reach the server (${err instanceof Error ? err.message : String(err)}).` };
}

/** One line for a problem: "Title: detail". */
export function describe(p: Problem): string {
  return p.detail ? `${p.title}: ${p.detail}` : p.title;
}
