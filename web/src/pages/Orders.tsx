// Orders: one partner's orders over an event-time range (the origin's by-event-time index),
// paged with the origin's cursors, and the partner's rejected orders of the last 30 days.
//
// Partner routes answer a partner's own API key (the edge checks it, the origin requires the
// key's consumer to be the partner in the path), so the page asks for that key. It stays in this
// page's memory: never stored, gone when the page is left.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiFailure, api, type Credential } from '../lib/api';
import { money, utc } from '../lib/format';
import { recent, type Rejected } from '../lib/orders';
import { answered, back, cursorOf, firstPage, forward, type Pager as PagerState } from '../lib/paging';
import type { Problem } from '../lib/problem';
import { all, parseId, parseSecret, parseTimeRange } from '../lib/validate';
import { Field, ProblemBox, Status, Table, useFieldErrors } from '../ui/forms';
import { Pager } from '../ui/Pager';

interface Order {
  sequenceNumber: number;
  eventTime: string;
  currency: string;
  total: number;
  lineItems: { sku: string; quantity: number; unitPrice: number }[];
  receivedAt: string;
}
interface Query {
  partner: string;
  credential: Credential;
  from?: string;
  to?: string;
}
type List<T> = { items: T[]; pager: PagerState; problem: Problem | null; busy: boolean };
type Page<T> = { items: T[]; next: string | null };

const PAGE_SIZE = 20;
const emptyList = <T,>(): List<T> => ({ items: [], pager: firstPage(), problem: null, busy: false });

/** One cursor-paged list: its state, and a loader for the page `pager` points at. */
function usePagedList<T>(fetchPage: (q: Query, cursor: string | null) => Promise<Page<T>>) {
  const [list, setList] = useState<List<T>>(emptyList());
  async function load(q: Query, pager: PagerState): Promise<Problem | null> {
    setList((l) => ({ ...l, pager, busy: true }));
    try {
      const r = await fetchPage(q, cursorOf(pager));
      setList({ items: r.items, pager: answered(pager, r.next), problem: null, busy: false });
      return null;
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      setList({ items: [], pager, problem: e.problem, busy: false });
      return e.problem;
    }
  }
  return { list, load };
}

/** A section showing one paged list: status, problem, table, previous/next. */
function ListSection<T>(p: { id: string; title: string; list: List<T>; none: string; some: string; query: Query; load: (q: Query, pager: PagerState) => unknown; children: ComponentChildren }) {
  const { list } = p;
  return (
    <section aria-labelledby={`${p.id}-title`} aria-busy={list.busy ? 'true' : 'false'}>
      <h2 id={`${p.id}-title`}>{p.title}</h2>
      <Status id={`${p.id}-status`}>{list.busy ? 'Loading…' : list.problem ? '' : list.items.length === 0 ? p.none : `${list.items.length} ${p.some} on this page.`}</Status>
      <ProblemBox problem={list.problem} />
      {list.items.length > 0 && p.children}
      <Pager
        id={`${p.id}-pager`}
        label={`${p.title}: pages`}
        pager={list.pager}
        busy={list.busy}
        onBack={() => p.load(p.query, back(list.pager))}
        onForward={() => p.load(p.query, forward(list.pager))}
      />
    </section>
  );
}

export default function Orders() {
  const [partner, setPartner] = useState('');
  const [key, setKey] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const fields = useFieldErrors(['partner', 'key', 'from', 'to']);
  const [query, setQuery] = useState<Query | null>(null);

  const orders = usePagedList<Order>(async (q, cursor) => {
    const r = await api<{ orders: Order[]; next_cursor: string | null }>(`/api/partners/${q.partner}/orders`, {
      credential: q.credential,
      query: { from: q.from, to: q.to, limit: PAGE_SIZE, cursor },
    });
    return { items: r.orders, next: r.next_cursor };
  });
  const rejected = usePagedList<Rejected>(async (q, cursor) => {
    const r = await api<{ errors: Rejected[]; next_cursor: string | null }>(`/api/partners/${q.partner}/errors`, {
      credential: q.credential,
      query: { limit: PAGE_SIZE, cursor },
    });
    return { items: recent(r.errors, Date.now()), next: r.next_cursor };
  });
  // An origin 400 on the range (`from`, `to`) shows on its input.
  const loadOrders = async (q: Query, pager: PagerState) => {
    const problem = await orders.load(q, pager);
    if (problem) fields.fromProblem(problem);
  };

  function onSubmit(e: Event) {
    e.preventDefault();
    const c = fields.check(all({ partner: parseId('partner', 'Partner', partner), key: parseSecret('key', 'Partner API key', key), range: parseTimeRange(from, to) }));
    if (!c) return;
    const q: Query = { partner: c.value.partner, credential: { kind: 'apiKey', key: c.value.key }, ...c.value.range };
    setQuery(q);
    loadOrders(q, firstPage());
    rejected.load(q, firstPage());
  }

  return (
    <>
      <h1 tabIndex={-1}>Orders</h1>
      <section aria-labelledby="find-title">
        <h2 id="find-title">Partner</h2>
        <form ref={fields.form} id="orders-form" class="grid" onSubmit={onSubmit} noValidate>
          <Field id="partner" label="Partner" value={partner} onInput={setPartner} error={fields.errors.partner} />
          <Field id="key" label="Partner API key" type="password" value={key} onInput={setKey} error={fields.errors.key} hint="Kept in this page's memory only." />
          <Field id="from" label="Event time from (UTC)" type="datetime-local" value={from} onInput={setFrom} error={fields.errors.from} />
          <Field id="to" label="Event time to (UTC)" type="datetime-local" value={to} onInput={setTo} error={fields.errors.to} />
          <button type="submit">Show orders</button>
        </form>
      </section>
      {query && (
        <ListSection id="orders" title={`Orders of ${query.partner}`} list={orders.list} none="No orders in this range." some="order(s)" query={query} load={loadOrders}>
          <Table id="orders" label="Orders table" caption="Orders by event time" head={['Sequence', 'Event time', 'Items', 'Total', 'Received']}>
            {orders.list.items.map((o) => (
              <tr key={o.sequenceNumber}>
                <th scope="row">{o.sequenceNumber}</th>
                <td>{utc(o.eventTime)}</td>
                <td>{o.lineItems.map((l) => `${l.quantity} × ${l.sku}`).join(', ')}</td>
                <td>{money(o.total, o.currency)}</td>
                <td>{utc(o.receivedAt)}</td>
              </tr>
            ))}
          </Table>
        </ListSection>
      )}
      {query && (
        <ListSection id="rejected" title="Rejected orders, last 30 days" list={rejected.list} none="No rejected orders." some="rejected order(s)" query={query} load={rejected.load}>
          <Table id="rejected" label="Rejected orders table" caption="Validation errors, newest first" head={['Received', 'Sequence', 'Reasons']}>
            {rejected.list.items.map((r, i) => (
              <tr key={`${r.receivedAt}-${r.index}-${i}`}>
                <th scope="row">{utc(r.receivedAt)}</th>
                <td>{r.sequenceNumber ?? '(none)'}</td>
                <td>
                  <ul>
                    {(r.reasons ?? []).map((why) => (
                      <li key={why}>{why}</li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </Table>
        </ListSection>
      )}
    </>
  );
}
