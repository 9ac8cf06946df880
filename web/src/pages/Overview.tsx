// Overview: who is signed in, the build the bucket holds, and whether the edge and the origin
// answer. The edge counts as up when it serves build.json from the bucket (which proves its signed
// bucket reads too, where its own /_verge/health would not); the origin's /api/health is its
// GET /health (DynamoDB reachable) through the edge.

import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api } from '../lib/api';
import { utc, utcSeconds } from '../lib/format';
import { describe } from '../lib/problem';
import { displayName, useMe } from '../ui/session';
import { loginUrl } from '../lib/api';

interface Build {
  commit: string;
  time: string;
}
interface Health {
  status: string;
  storage: string;
}
type Check<T> = { state: 'loading' } | { state: 'ok'; value: T; ms: number } | { state: 'failed'; why: string };

async function timed<T>(f: () => Promise<T>): Promise<Check<T>> {
  const start = performance.now();
  try {
    const value = await f();
    return { state: 'ok', value, ms: Math.round(performance.now() - start) };
  } catch (e) {
    return { state: 'failed', why: e instanceof ApiFailure ? describe(e.problem) : String(e) };
  }
}

export default function Overview() {
  const me = useMe();
  const [build, setBuild] = useState<Check<Build>>({ state: 'loading' });
  const [health, setHealth] = useState<Check<Health>>({ state: 'loading' });

  useEffect(() => {
    timed(() => api<Build>('/build.json')).then(setBuild);
    timed(() => api<Health>('/api/health')).then(setHealth);
  }, []);

  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <section aria-labelledby="who">
        <h2 id="who">Signed in</h2>
        {me === undefined && <p role="status">Loading…</p>}
        {me === null && (
          <p id="who-state">
            Not signed in. <a href={loginUrl('/')}>Sign in</a> to connect a bank account.
          </p>
        )}
        {me && (
          <dl id="who-state">
            <dt>User</dt>
            <dd>{displayName(me)}</dd>
            {me.email && (
              <>
                <dt>Email</dt>
                <dd>{me.email}</dd>
              </>
            )}
            <dt>Roles</dt>
            <dd id="who-roles">{me.scopes?.length ? me.scopes.join(', ') : 'none'}</dd>
            <dt>Session ends</dt>
            <dd>{utcSeconds(me.session_expires_at)}</dd>
          </dl>
        )}
      </section>
      <section aria-labelledby="build">
        <h2 id="build">Build</h2>
        {build.state === 'loading' && <p role="status">Loading…</p>}
        {build.state === 'failed' && <p role="alert">Unknown: {build.why}</p>}
        {build.state === 'ok' && (
          <dl>
            <dt>Commit</dt>
            <dd>
              <code id="build-commit">{build.value.commit}</code>
            </dd>
            <dt>Built</dt>
            <dd>
              <time id="build-time" dateTime={build.value.time}>
                {utc(build.value.time)}
              </time>
            </dd>
          </dl>
        )}
      </section>
      <section aria-labelledby="health">
        <h2 id="health">Health</h2>
        <dl>
          <dt>Edge</dt>
          <dd id="health-edge">
            {build.state === 'loading' ? 'checking…' : build.state === 'ok' ? `up (answered in ${build.ms} ms)` : `down: ${build.why}`}
          </dd>
          <dt>Origin</dt>
          <dd id="health-origin">
            {health.state === 'loading'
              ? 'checking…'
              : health.state === 'ok'
                ? `${health.value.status} (storage ${health.value.storage}, ${health.ms} ms)`
                : `down: ${health.why}`}
          </dd>
        </dl>
      </section>
    </>
  );
}
