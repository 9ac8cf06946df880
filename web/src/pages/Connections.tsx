// Connections: the signed-in user's bank. The token goes to the origin's vault (sealed there,
// never shown again, never sent back); accounts and transactions come from the bank through
// the origin with that stored token. A 503 (the bank down, or the origin's breaker open) is
// "bank unavailable, try again", not a failure of the page.

import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, loginUrl } from '../lib/api';
import { money } from '../lib/format';
import type { Problem } from '../lib/problem';
import { parseSecret } from '../lib/validate';
import { Field, ProblemBox, Status, Table, useFieldErrors } from '../ui/forms';
import { useMe } from '../ui/session';

interface Account {
  id: string;
  name: string;
  iban_last4: string;
  balance: string;
  currency: string;
}
interface Transaction {
  id: string;
  date: string;
  amount: string;
  currency: string;
  description: string;
}
type State =
  | { kind: 'loading' }
  | { kind: 'not-connected' }
  | { kind: 'connected'; accounts: Account[] }
  | { kind: 'unavailable'; problem: Problem }
  | { kind: 'failed'; problem: Problem };

/** What a failed bank read means for the page. */
function stateOf(p: Problem): State {
  if (p.status === 404) return { kind: 'not-connected' };
  if (p.status === 503) return { kind: 'unavailable', problem: p };
  return { kind: 'failed', problem: p };
}

function ConnectForm({ onConnected }: { onConnected: () => void }) {
  const [token, setToken] = useState('');
  const fields = useFieldErrors(['token']);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function onSubmit(e: Event) {
    e.preventDefault();
    setProblem(null);
    const t = fields.check(parseSecret('token', 'Bank access token', token));
    if (!t) return;
    setBusy(true);
    try {
      await api('/api/me/connections/bank', { method: 'PUT', body: { token: t.value } });
      setToken('');
      onConnected();
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      fields.fromProblem(err.problem);
      setProblem(err.problem);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form ref={fields.form} id="connect-form" class="row" onSubmit={onSubmit} noValidate>
      <Field
        id="token"
        label="Bank access token"
        type="password"
        value={token}
        onInput={setToken}
        error={fields.errors.token}
        hint="Stored encrypted by the vault and never shown again."
      />
      <button type="submit" disabled={busy}>
        Connect
      </button>
      <ProblemBox problem={problem} />
    </form>
  );
}

function Transactions() {
  const [items, setItems] = useState<Transaction[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(true);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function load(cursor: string | null) {
    setBusy(true);
    try {
      const r = await api<{ transactions: Transaction[]; next_cursor: string | null }>('/api/me/transactions', { query: { cursor } });
      setItems((old) => (cursor ? [...old, ...r.transactions] : r.transactions));
      setNext(r.next_cursor);
      setProblem(null);
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      setProblem(e.problem.status === 503 ? { ...e.problem, title: 'Bank unavailable, try again' } : e.problem);
    } finally {
      setBusy(false);
    }
  }
  useEffect(() => {
    load(null);
  }, []);

  return (
    <section aria-labelledby="tx-title" aria-busy={busy ? 'true' : 'false'}>
      <h2 id="tx-title">Recent transactions</h2>
      <Status id="tx-status">{busy ? 'Loading…' : items.length === 0 && !problem ? 'No transactions.' : ''}</Status>
      <ProblemBox problem={problem} />
      {items.length > 0 && (
        <Table id="transactions" label="Transactions table" head={['Date', 'Description', 'Amount']}>
          {items.map((t) => (
                <tr key={t.id}>
                  <th scope="row">{t.date}</th>
                  <td>{t.description}</td>
                  <td>{money(t.amount, t.currency)}</td>
                </tr>
          ))}
        </Table>
      )}
      {next && (
        <button type="button" id="more-transactions" disabled={busy} onClick={() => load(next)}>
          More transactions
        </button>
      )}
    </section>
  );
}

export default function Connections() {
  const me = useMe();
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [notice, setNotice] = useState('');

  async function load() {
    setState({ kind: 'loading' });
    try {
      const r = await api<{ accounts: Account[] }>('/api/me/accounts');
      setState({ kind: 'connected', accounts: r.accounts });
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      setState(stateOf(e.problem));
    }
  }

  async function disconnect() {
    setNotice('');
    try {
      await api('/api/me/connections/bank', { method: 'DELETE' });
      setNotice('Disconnected. The stored token was deleted.');
      setState({ kind: 'not-connected' });
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      setState(stateOf(e.problem));
    }
  }

  useEffect(() => {
    if (me) load();
  }, [me]);

  return (
    <>
      <h1 tabIndex={-1}>Connections</h1>
      {me === undefined && <p role="status">Loading…</p>}
      {me === null && (
        <p>
          <a href={loginUrl('/connections')}>Sign in</a> to connect your bank.
        </p>
      )}
      {me && (
        <section aria-labelledby="bank-title" aria-busy={state.kind === 'loading' ? 'true' : 'false'}>
          <h2 id="bank-title">Bank</h2>
          <Status id="bank-status">
            {state.kind === 'loading' ? 'Loading…' : state.kind === 'not-connected' ? 'Not connected.' : state.kind === 'connected' ? `Connected: ${state.accounts.length} account(s).` : ''}
          </Status>
          {notice && <p class="notice">{notice}</p>}
          {state.kind === 'unavailable' && (
            <div class="problem" role="alert" id="bank-unavailable">
              <p>
                <strong>Bank unavailable, try again</strong>
                {state.problem.retryAfter ? ` in ${state.problem.retryAfter} s` : ''}.
              </p>
              <button type="button" onClick={load}>
                Try again
              </button>
            </div>
          )}
          {state.kind === 'failed' && (
            <ProblemBox problem={state.problem}>
              <button type="button" onClick={load}>
                Try again
              </button>
            </ProblemBox>
          )}
          {state.kind === 'not-connected' && <ConnectForm onConnected={() => (setNotice('Connected.'), load())} />}
          {state.kind === 'failed' && state.problem.status === 502 && <ConnectForm onConnected={() => (setNotice('Connected.'), load())} />}
          {state.kind === 'connected' && (
            <>
              <Table id="accounts" label="Accounts table" caption="Accounts" head={['Account', 'IBAN', 'Balance']}>
                {state.accounts.map((a) => (
                      <tr key={a.id}>
                        <th scope="row">{a.name}</th>
                        <td>…{a.iban_last4}</td>
                        <td>{money(a.balance, a.currency)}</td>
                      </tr>
                ))}
              </Table>
              <button type="button" id="disconnect" class="danger" onClick={disconnect}>
                Disconnect
              </button>
            </>
          )}
        </section>
      )}
      {me && state.kind === 'connected' && <Transactions />}
    </>
  );
}
