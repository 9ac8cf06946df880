// API keys (admins): create one (its secret shown once, with a copy button), list, revoke.
//
// The admin routes take the session of a user with the `admin` role (the edge's `/api/admin/*`
// behaviour checks it, the origin requires the scope it forwards); no token is pasted or held by
// the page. A user without the role is told so, and nothing is asked of the API.

import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, loginUrl } from '../lib/api';
import { utc } from '../lib/format';
import type { Problem } from '../lib/problem';
import { all, parseCount, parseId } from '../lib/validate';
import { Field, ProblemBox, Status, Table, useFieldErrors } from '../ui/forms';
import { displayName, hasScope, useMe, type Me } from '../ui/session';

interface Plan {
  rate_per_second: number;
  burst: number;
  quota_per_day: number;
}
interface Key {
  id: string;
  consumer: string;
  plan: Plan;
  created_at: string;
}
interface Created extends Key {
  key: string;
}

/** The origin's field names (`plan.burst`) as this page's input ids (`burst`). */
const inputFor = (field: string) => field.replace(/^plan\./, '');

function SecretOnce({ created, onDone }: { created: Created; onDone: () => void }) {
  const [copied, setCopied] = useState('');
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('Copied to the clipboard.');
    } catch {
      setCopied('Copying failed: select the key and copy it by hand.');
    }
  }
  return (
    <div class="secret" role="region" aria-labelledby="secret-title" id="new-key">
      <h3 id="secret-title">New key for {created.consumer}</h3>
      <p>This is the only time the key is shown. Copy it now and give it to the partner.</p>
      <p>
        <code id="new-key-secret">{created.key}</code>
      </p>
      <button type="button" id="copy-key" onClick={copy}>
        Copy key
      </button>{' '}
      <button type="button" onClick={onDone}>
        Done
      </button>
      <Status id="copy-status">{copied}</Status>
    </div>
  );
}

/** Who may use this page, said plainly: checking, signed out, or signed in without the role. */
function Access({ me }: { me: Me | null | undefined }) {
  if (me === undefined) return <Status id="keys-access">Checking who is signed in…</Status>;
  if (me === null) {
    return (
      <p id="keys-access">
        API keys are managed by administrators. <a href={loginUrl('/keys')}>Sign in</a> with an account that has the admin role.
      </p>
    );
  }
  return (
    <p id="keys-access" class="notice">
      You are signed in as {displayName(me)}, who does not have the admin role, so you cannot see or manage API keys. Ask an administrator of
      your identity provider to add you to the admin group, then sign in again.
    </p>
  );
}

export default function Keys() {
  const me = useMe();
  const admin = !!me && hasScope(me, 'admin');
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [listProblem, setListProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  const [consumer, setConsumer] = useState('');
  const [rate, setRate] = useState('10');
  const [burst, setBurst] = useState('20');
  const [quota, setQuota] = useState('10000');
  const createFields = useFieldErrors(['consumer', 'rate_per_second', 'burst', 'quota_per_day'], inputFor);
  const [createProblem, setCreateProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<Created | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [notice, setNotice] = useState('');

  async function list() {
    setBusy(true);
    try {
      const r = await api<{ keys: Key[] }>('/api/admin/keys');
      setKeys(r.keys);
      setListProblem(null);
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      setKeys(null);
      setListProblem(e.problem);
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    if (admin) list();
  }, [admin]);

  async function create(e: Event) {
    e.preventDefault();
    setCreateProblem(null);
    setNotice('');
    const c = createFields.check(
      all({
        consumer: parseId('consumer', 'Consumer', consumer),
        rate_per_second: parseCount('rate_per_second', 'Requests per second', rate),
        burst: parseCount('burst', 'Burst', burst),
        quota_per_day: parseCount('quota_per_day', 'Requests per day', quota),
      }),
    );
    if (!c) return;
    const { consumer: who, ...plan } = c.value;
    try {
      const k = await api<Created>('/api/admin/keys', { method: 'POST', body: { consumer: who, plan } });
      setCreated(k);
      setConsumer('');
      await list();
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      createFields.fromProblem(err.problem);
      setCreateProblem(err.problem);
    }
  }

  async function revoke(k: Key) {
    setConfirming(null);
    try {
      await api(`/api/admin/keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
      setNotice(`Revoked the key ${k.id} of ${k.consumer}. The edge stops accepting it within 5 minutes (its verdict cache).`);
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      setListProblem(err.problem);
    }
    await list();
  }

  return (
    <>
      <h1 tabIndex={-1}>API keys</h1>
      {!admin && <Access me={me} />}
      {admin && (
        <section aria-labelledby="create-title">
          <h2 id="create-title">Create a key</h2>
          <form ref={createFields.form} id="create-form" class="grid" onSubmit={create} noValidate>
            <Field id="consumer" label="Consumer (partner id)" value={consumer} onInput={setConsumer} error={createFields.errors.consumer} />
            <Field id="rate_per_second" label="Requests per second" inputMode="numeric" value={rate} onInput={setRate} error={createFields.errors.rate_per_second} />
            <Field id="burst" label="Burst" inputMode="numeric" value={burst} onInput={setBurst} error={createFields.errors.burst} />
            <Field id="quota_per_day" label="Requests per day" inputMode="numeric" value={quota} onInput={setQuota} error={createFields.errors.quota_per_day} />
            <button type="submit">Create key</button>
          </form>
          <ProblemBox problem={createProblem} />
          {created && <SecretOnce created={created} onDone={() => setCreated(null)} />}
        </section>
      )}
      {admin && (
        <section aria-labelledby="keys-title" aria-busy={busy ? 'true' : 'false'}>
          <h2 id="keys-title">Keys</h2>
          <Status id="keys-status">{busy ? 'Loading…' : keys && keys.length === 0 ? 'No keys yet.' : keys ? `${keys.length} key(s).` : ''}</Status>
          {notice && <p class="notice">{notice}</p>}
          <ProblemBox problem={listProblem} />
          {keys && keys.length > 0 && (
            <Table id="keys" label="Keys table" head={['Consumer', 'Id', 'Plan', 'Created', <span class="visually-hidden">Actions</span>]}>
              {keys.map((k) => (
                    <tr key={k.id}>
                      <th scope="row">{k.consumer}</th>
                      <td>
                        <code>{k.id}</code>
                      </td>
                      <td>
                        {k.plan.rate_per_second}/s, burst {k.plan.burst}, {k.plan.quota_per_day}/day
                      </td>
                      <td>{utc(k.created_at)}</td>
                      <td>
                        {confirming === k.id ? (
                          <>
                            <button type="button" class="danger" onClick={() => revoke(k)}>
                              Confirm revoking {k.consumer}
                            </button>{' '}
                            <button type="button" onClick={() => setConfirming(null)}>
                              Cancel
                            </button>
                          </>
                        ) : (
                          <button type="button" aria-label={`Revoke the key ${k.id} of ${k.consumer}`} onClick={() => setConfirming(k.id)}>
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
              ))}
            </Table>
          )}
        </section>
      )}
    </>
  );
}
