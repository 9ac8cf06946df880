// A partner's rejected orders as the origin lists them (newest first).

export interface Rejected {
  index: number | null;
  sequenceNumber: number | null;
  reasons: string[] | null;
  order: string;
  receivedAt: string | null;
  /** When DynamoDB's TTL removes the record (seconds since the epoch): 30 days after receipt. */
  expiresAt: number | null;
}

/**
 * The rejections still within their 30 days: DynamoDB deletes expired items only within a day
 * or two of `expiresAt` (and moto never does), so the list may still hold older ones.
 */
export function recent(errors: Rejected[], nowMs: number): Rejected[] {
  return errors.filter((e) => e.expiresAt == null || e.expiresAt * 1000 > nowMs);
}
