// Daily statistics as the chart draws them: one point per day of the chosen range (days
// without numbers count 0 and have no mean, min or max), x in seconds since the epoch.

export interface DayStats {
  date: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
}

/** [x (UTC midnight, s), count, mean, min, max]: uPlot's column layout. */
export type Series = [number[], number[], (number | null)[], (number | null)[], (number | null)[]];

const MS_PER_DAY = 86_400_000;

/** `YYYY-MM-DD` of a moment, in UTC (the origin's days are UTC days). */
export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The last `days` days up to and including `today`'s UTC day. */
export function lastDays(today: Date, days: number): { from: string; to: string } {
  return { from: isoDay(new Date(today.getTime() - (days - 1) * MS_PER_DAY)), to: isoDay(today) };
}

/** Every day from `from` to `to` filled from `days`, in order. */
export function series(from: string, to: string, days: DayStats[]): Series {
  const byDate = new Map(days.map((d) => [d.date, d]));
  const out: Series = [[], [], [], [], []];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= end; t += MS_PER_DAY) {
    const d = byDate.get(isoDay(new Date(t)));
    out[0].push(t / 1000);
    out[1].push(d?.count ?? 0);
    out[2].push(d ? d.mean : null);
    out[3].push(d ? d.min : null);
    out[4].push(d ? d.max : null);
  }
  return out;
}

/** A sentence for screen readers describing what the chart shows. */
export function summary(from: string, to: string, days: DayStats[]): string {
  if (days.length === 0) return `No numbers from ${from} to ${to}.`;
  const count = days.reduce((n, d) => n + d.count, 0);
  const min = Math.min(...days.map((d) => d.min));
  const max = Math.max(...days.map((d) => d.max));
  return `${count} number${count === 1 ? '' : 's'} on ${days.length} day${days.length === 1 ? '' : 's'} from ${from} to ${to}, between ${min} and ${max}.`;
}
