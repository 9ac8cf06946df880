// Orders: one partner's orders over an event-time range (the origin's by-event-time index),
// paged with the origin's cursors, and the partner's rejected orders of the last 30 days.
//
// Partner routes answer the partner's API key or a signed-in user whose roles include
// `partner:ID` (the origin checks it against the partner in the path). The page offers the
// partners of the session's roles; no key is pasted or held by the page.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiFailure, api, loginUrl } from '../lib/api';
import { money, utc } from '../lib/format';
import { recent, type Rejected } from '../lib/orders';
import { answered, back, cursorOf, firstPage, forward, type Pager as PagerState } from '../lib/paging';
import type { Problem } from '../lib/problem';
import { all, parseId, parseTimeRange } from '../lib/validate';
import { Field, ProblemBox, Status, Table, useFieldErrors } from '../ui/forms';
import { Pager } from '../ui/Pager';
import { displayName, partnersOf, useMe, type Me } from '../ui/session';

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

/** Who may use this page, said plainly: checking, signed out, or signed in without a partner role. */
function Access({ me }: { me: Me | null | undefined }) {
  if (me === undefined) return <Status id="orders-access">Checking who is signed in…</Status>;
  if (me === null) {
    return (
      <p id="orders-access">
        A partner's orders are shown to its own people. <a href={loginUrl('/orders')}>Sign in</a> with an account that has a partner role.
      </p>
    );
  }
  return (
    <p id="orders-access" class="notice">
      You are signed in as {displayName(me)}, who has no partner role (partner:ID), so there are no orders to show. Ask an administrator of your
      identity provider to add you to your partner's group, then sign in again.
    </p>
  );
}

export default function Orders() {
  const me = useMe();
  const partners = me ? partnersOf(me) : [];
  const [chosen, setPartner] = useState('');
  const partner = chosen || partners[0] || '';
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const fields = useFieldErrors(['partner', 'from', 'to']);
  const [query, setQuery] = useState<Query | null>(null);

  const orders = usePagedList<Order>(async (q, cursor) => {
    const r = await api<{ orders: Order[]; next_cursor: string | null }>(`/api/partners/${q.partner}/orders`, {
      query: { from: q.from, to: q.to, limit: PAGE_SIZE, cursor },
    });
    return { items: r.orders, next: r.next_cursor };
  });
  const rejected = usePagedList<Rejected>(async (q, cursor) => {
    const r = await api<{ errors: Rejected[]; next_cursor: string | null }>(`/api/partners/${q.partner}/errors`, {
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
    const c = fields.check(all({ partner: parseId('partner', 'Partner', partner), range: parseTimeRange(from, to) }));
    if (!c) return;
    const q: Query = { partner: c.value.partner, ...c.value.range };
    setQuery(q);
    loadOrders(q, firstPage());
    rejected.load(q, firstPage());
  }

  return (
    <>
      <h1 tabIndex={-1}>Orders</h1>
      {partners.length === 0 && <Access me={me} />}
      {partners.length > 0 && <section aria-labelledby="find-title">
        <h2 id="find-title">Partner</h2>
        <form ref={fields.form} id="orders-form" class="grid" onSubmit={onSubmit} noValidate>
          <div class="field">
            <label for="partner">Partner</label>
            <select
              id="partner"
              name="partner"
              value={partner}
              onChange={(e) => setPartner((e.target as HTMLSelectElement).value)}
              aria-invalid={fields.errors.partner ? 'true' : undefined}
              aria-describedby={fields.errors.partner ? 'partner-error' : 'partner-hint'}
            >
              {partners.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
            <p class="hint" id="partner-hint">
              The partners your account acts for (its partner roles).
            </p>
            {fields.errors.partner && (
              <p class="error" id="partner-error">
                {fields.errors.partner}
              </p>
            )}
          </div>
          <Field id="from" label="Event time from (UTC)" type="datetime-local" value={from} onInput={setFrom} error={fields.errors.from} />
          <Field id="to" label="Event time to (UTC)" type="datetime-local" value={to} onInput={setTo} error={fields.errors.to} />
          <button type="submit">Show orders</button>
        </form>
      </section>}
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
