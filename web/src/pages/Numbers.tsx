// Numbers: add one (anonymous, as the open /api/numbers behaviour allows), and the daily
// statistics over a chosen range as a chart and a table.
//
// Reads and writes race, so each statistics request carries a sequence number and only the
// latest one's answer is shown: an initial load that answers after the refresh that follows an
// add cannot put older figures back. After an add the refresh asks with `&after=ID` (the new
// number's id): a query the edge has never seen, so no cached answer can be older than the add.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiFailure, api } from '../lib/api';
import { num } from '../lib/format';
import type { Problem } from '../lib/problem';
import { lastDays, series, summary, type DayStats } from '../lib/stats';
import { parseDayRange, parseNumber } from '../lib/validate';
import { Field, ProblemBox, Status, Table, useFieldErrors } from '../ui/forms';
import { StatsChart } from '../ui/StatsChart';

interface Stats {
  from: string;
  to: string;
  days: DayStats[];
}
interface Added {
  id: string;
  value: number;
  day: string;
}

export default function Numbers() {
  const initial = useMemo(() => lastDays(new Date(), 30), []);
  const [value, setValue] = useState('');
  const add = useFieldErrors(['value']);
  const [addProblem, setAddProblem] = useState<Problem | null>(null);
  const [added, setAdded] = useState<string>('');
  const [adding, setAdding] = useState(false);

  const [from, setFrom] = useState(initial.from);
  const [to, setTo] = useState(initial.to);
  const range = useFieldErrors(['from', 'to']);
  const [stats, setStats] = useState<Stats | null>(null);
  const [statsProblem, setStatsProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);

  async function load(range: { from: string; to: string }, after?: string) {
    const seq = ++latest.current;
    setLoading(true);
    try {
      const s = await api<Stats>('/api/stats/daily', { query: { ...range, after } });
      if (seq !== latest.current) return;
      setStats(s);
      setStatsProblem(null);
    } catch (e) {
      if (seq !== latest.current) return;
      if (e instanceof ApiFailure) setStatsProblem(e.problem);
      else throw e;
    } finally {
      if (seq === latest.current) setLoading(false);
    }
  }

  useEffect(() => {
    load(initial);
  }, []);

  async function onAdd(e: Event) {
    e.preventDefault();
    setAddProblem(null);
    setAdded('');
    const v = add.check(parseNumber('value', 'Value', value));
    if (!v) return;
    setAdding(true);
    try {
      const saved = await api<Added>('/api/numbers', { method: 'POST', body: { value: v.value } });
      setValue('');
      setAdded(`Added ${saved.value} on ${saved.day}.`);
      const r = parseDayRange(from, to);
      await load(r.ok ? r.value : initial, saved.id);
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      // The origin's 400 names the field: shown on the input like the page's own checks.
      add.fromProblem(err.problem);
      setAddProblem(err.problem);
    } finally {
      setAdding(false);
    }
  }

  function onRange(e: Event) {
    e.preventDefault();
    const r = range.check(parseDayRange(from, to));
    if (r) load(r.value);
  }

  const data = useMemo(() => (stats ? series(stats.from, stats.to, stats.days) : null), [stats]);

  return (
    <>
      <h1 tabIndex={-1}>Numbers</h1>
      <section aria-labelledby="add-title">
        <h2 id="add-title">Add a number</h2>
        <form ref={add.form} id="add-form" class="row" onSubmit={onAdd} noValidate>
          <Field id="value" label="Value" value={value} onInput={setValue} inputMode="decimal" error={add.errors.value} />
          <button type="submit" disabled={adding}>
            Add
          </button>
        </form>
        <Status id="add-result">{added}</Status>
        <ProblemBox problem={addProblem} />
      </section>
      <section aria-labelledby="stats-title" aria-busy={loading ? 'true' : 'false'}>
        <h2 id="stats-title">Daily statistics (UTC)</h2>
        <form ref={range.form} id="range-form" class="row" onSubmit={onRange} noValidate>
          <Field id="from" label="From" type="date" value={from} onInput={setFrom} error={range.errors.from} />
          <Field id="to" label="To" type="date" value={to} onInput={setTo} error={range.errors.to} />
          <button type="submit">Show</button>
        </form>
        <Status id="stats-status">
          {loading ? 'Loading…' : stats ? (stats.days.length === 0 ? 'No numbers in this range yet.' : `${stats.days.length} day(s) with numbers.`) : ''}
        </Status>
        <ProblemBox problem={statsProblem} />
        {stats && data && <StatsChart data={data} label={summary(stats.from, stats.to, stats.days)} />}
        {stats && stats.days.length > 0 && (
          <Table id="stats" label="Daily statistics table" caption={`Daily statistics from ${stats.from} to ${stats.to}`} head={['Day', 'Count', 'Sum', 'Min', 'Max', 'Mean']}>
            {stats.days.map((d) => (
                  <tr key={d.date}>
                    <th scope="row">{d.date}</th>
                    <td>{d.count}</td>
                    <td>{num(d.sum)}</td>
                    <td>{num(d.min)}</td>
                    <td>{num(d.max)}</td>
                    <td>{num(d.mean)}</td>
                  </tr>
            ))}
          </Table>
        )}
      </section>
    </>
  );
}
