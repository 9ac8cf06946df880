// Orders: one partner's orders over an event-time range (the origin's by-event-time index),
// paged with the origin's cursors, and the partner's rejected orders of the last 30 days.
//
// Partner routes answer a partner's own API key (the edge checks it, the origin requires the
// key's consumer to be the partner in the path), so the page asks for that key. It stays in this
// page's memory: never stored, gone when the page is left.

import { useRef, useState } from 'preact/hooks';
import { ApiFailure, api, type Credential } from '../lib/api';
import { money, utc } from '../lib/format';
import { recent, type Rejected } from '../lib/orders';
import { answered, back, cursorOf, firstPage, forward, type Pager as PagerState } from '../lib/paging';
import type { Problem } from '../lib/problem';
import { all, parseId, parseSecret, parseTimeRange } from '../lib/validate';
import { errorsOf, Field, focusFirst, ProblemBox, Scroll, Status, type Errors } from '../ui/forms';
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

const PAGE_SIZE = 20;
const emptyList = <T,>(): List<T> => ({ items: [], pager: firstPage(), problem: null, busy: false });

export default function Orders() {
  const [partner, setPartner] = useState('');
  const [key, setKey] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [query, setQuery] = useState<Query | null>(null);
  const [orders, setOrders] = useState<List<Order>>(emptyList());
  const [rejected, setRejected] = useState<List<Rejected>>(emptyList());
  const form = useRef<HTMLFormElement>(null);

  async function loadOrders(q: Query, pager: PagerState) {
    setOrders((o) => ({ ...o, pager, busy: true }));
    try {
      const r = await api<{ orders: Order[]; next_cursor: string | null }>(`/api/partners/${q.partner}/orders`, {
        credential: q.credential,
        query: { from: q.from, to: q.to, limit: PAGE_SIZE, cursor: cursorOf(pager) },
      });
      setOrders({ items: r.orders, pager: answered(pager, r.next_cursor), problem: null, busy: false });
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      setOrders({ items: [], pager, problem: e.problem, busy: false });
      showFieldError(e.problem);
    }
  }

  async function loadRejected(q: Query, pager: PagerState) {
    setRejected((o) => ({ ...o, pager, busy: true }));
    try {
      const r = await api<{ errors: Rejected[]; next_cursor: string | null }>(`/api/partners/${q.partner}/errors`, {
        credential: q.credential,
        query: { limit: PAGE_SIZE, cursor: cursorOf(pager) },
      });
      setRejected({ items: recent(r.errors, Date.now()), pager: answered(pager, r.next_cursor), problem: null, busy: false });
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      setRejected({ items: [], pager, problem: e.problem, busy: false });
    }
  }

  function showFieldError(p: Problem) {
    if (p.status === 400 && p.field && ['from', 'to'].includes(p.field)) {
      const errs = { [p.field]: p.detail };
      setErrors(errs);
      focusFirst(form.current, errs);
    }
  }

  function onSubmit(e: Event) {
    e.preventDefault();
    const c = all({ partner: parseId('partner', 'Partner', partner), key: parseSecret('key', 'Partner API key', key), range: parseTimeRange(from, to) });
    if (!c.ok) {
      const errs = errorsOf(c.errors);
      setErrors(errs);
      focusFirst(form.current, errs);
      return;
    }
    setErrors({});
    const q: Query = { partner: c.value.partner, credential: { kind: 'apiKey', key: c.value.key }, ...c.value.range };
    setQuery(q);
    loadOrders(q, firstPage());
    loadRejected(q, firstPage());
  }

  return (
    <>
      <h1 tabIndex={-1}>Orders</h1>
      <section aria-labelledby="find-title">
        <h2 id="find-title">Partner</h2>
        <form ref={form} id="orders-form" class="grid" onSubmit={onSubmit} noValidate>
          <Field id="partner" label="Partner" value={partner} onInput={setPartner} error={errors.partner} />
          <Field id="key" label="Partner API key" type="password" value={key} onInput={setKey} error={errors.key} hint="Kept in this page's memory only." />
          <Field id="from" label="Event time from (UTC)" type="datetime-local" value={from} onInput={setFrom} error={errors.from} />
          <Field id="to" label="Event time to (UTC)" type="datetime-local" value={to} onInput={setTo} error={errors.to} />
          <button type="submit">Show orders</button>
        </form>
      </section>
      {query && (
        <section aria-labelledby="orders-title" aria-busy={orders.busy ? 'true' : 'false'}>
          <h2 id="orders-title">Orders of {query.partner}</h2>
          <Status id="orders-status">
            {orders.busy ? 'Loading…' : orders.problem ? '' : orders.items.length === 0 ? 'No orders in this range.' : `${orders.items.length} order(s) on this page.`}
          </Status>
          <ProblemBox problem={orders.problem} />
          {orders.items.length > 0 && (
            <Scroll label="Orders table">
              <table id="orders">
                <caption>Orders by event time</caption>
                <thead>
                  <tr>
                    <th scope="col">Sequence</th>
                    <th scope="col">Event time</th>
                    <th scope="col">Items</th>
                    <th scope="col">Total</th>
                    <th scope="col">Received</th>
                  </tr>
                </thead>
                <tbody>
                  {orders.items.map((o) => (
                    <tr key={o.sequenceNumber}>
                      <th scope="row">{o.sequenceNumber}</th>
                      <td>{utc(o.eventTime)}</td>
                      <td>{o.lineItems.map((l) => `${l.quantity} × ${l.sku}`).join(', ')}</td>
                      <td>{money(o.total, o.currency)}</td>
                      <td>{utc(o.receivedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Scroll>
          )}
          <Pager
            id="orders-pager"
            label="Orders pages"
            pager={orders.pager}
            busy={orders.busy}
            onBack={() => loadOrders(query, back(orders.pager))}
            onForward={() => loadOrders(query, forward(orders.pager))}
          />
        </section>
      )}
      {query && (
        <section aria-labelledby="rejected-title" aria-busy={rejected.busy ? 'true' : 'false'}>
          <h2 id="rejected-title">Rejected orders, last 30 days</h2>
          <Status id="rejected-status">
            {rejected.busy ? 'Loading…' : rejected.problem ? '' : rejected.items.length === 0 ? 'No rejected orders.' : `${rejected.items.length} rejected order(s) on this page.`}
          </Status>
          <ProblemBox problem={rejected.problem} />
          {rejected.items.length > 0 && (
            <Scroll label="Rejected orders table">
              <table id="rejected">
                <caption>Validation errors, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Received</th>
                    <th scope="col">Sequence</th>
                    <th scope="col">Reasons</th>
                  </tr>
                </thead>
                <tbody>
                  {rejected.items.map((r, i) => (
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
                </tbody>
              </table>
            </Scroll>
          )}
          <Pager
            id="rejected-pager"
            label="Rejected orders pages"
            pager={rejected.pager}
            busy={rejected.busy}
            onBack={() => loadRejected(query, back(rejected.pager))}
            onForward={() => loadRejected(query, forward(rejected.pager))}
          />
        </section>
      )}
    </>
  );
}
