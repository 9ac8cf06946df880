// The Verge web app: shows the build, posts numbers and reads daily statistics through the edge.
// Served from the private bucket by the edge; every /api call goes browser -> edge -> origin.

const $ = (sel) => document.querySelector(sel);

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

async function problemText(resp) {
  try {
    const p = await resp.json();
    return p.detail || p.title || `HTTP ${resp.status}`;
  } catch {
    return `HTTP ${resp.status}`;
  }
}

async function loadBuild() {
  try {
    const resp = await fetch('/build.json', { cache: 'no-store' });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const build = await resp.json();
    $('#build-commit').textContent = build.commit;
    $('#build-time').textContent = build.time;
    $('#build-time').dateTime = build.time;
  } catch (err) {
    $('#build-commit').textContent = 'unknown';
    $('#build-time').textContent = `unknown (${err.message})`;
  }
}

// `after` (the id of a number just added) makes a new edge cache key, so the page sees its own
// write instead of statistics the edge keeps for 30 seconds. Only the latest load is shown: the
// page's first load, when slow (a cold edge), must not overwrite the statistics after an add.
let statsLoads = 0;
async function loadStats(after) {
  statsLoads += 1;
  const mine = statsLoads;
  const to = new Date();
  const from = new Date(to.getTime() - 29 * 86400000);
  const status = $('#stats-status');
  const fresh = after ? `&after=${encodeURIComponent(after)}` : '';
  const resp = await fetch(`/api/stats/daily?from=${isoDay(from)}&to=${isoDay(to)}${fresh}`, { headers: { accept: 'application/json' } });
  if (mine !== statsLoads) return;
  if (!resp.ok) {
    status.textContent = `Could not load statistics: ${await problemText(resp)}`;
    return;
  }
  const body = await resp.json();
  if (mine !== statsLoads) return;
  const rows = $('#stats tbody');
  rows.replaceChildren(
    ...body.days.map((d) => {
      const tr = document.createElement('tr');
      for (const v of [d.date, d.count, d.sum, d.min, d.max, Number(d.mean.toFixed(6))]) {
        const td = document.createElement('td');
        td.textContent = String(v);
        tr.append(td);
      }
      return tr;
    }),
  );
  $('#stats').hidden = body.days.length === 0;
  status.textContent = body.days.length === 0 ? 'No numbers yet.' : `${body.days.length} day(s) with numbers.`;
}

async function addNumber(event) {
  event.preventDefault();
  const out = $('#add-result');
  const value = Number($('#value').value);
  const resp = await fetch('/api/numbers', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  if (!resp.ok) {
    out.textContent = `Not added: ${await problemText(resp)}`;
    return;
  }
  const saved = await resp.json();
  // The statistics first, so that once the page says "Added" they include the new number.
  await loadStats(saved.id ?? String(Date.now()));
  out.textContent = `Added ${saved.value} on ${saved.day}.`;
}

// The session lives in an HttpOnly cookie this script cannot read; /auth/me says who is signed in.
async function loadAccount() {
  const resp = await fetch('/auth/me', { cache: 'no-store' });
  if (!resp.ok) return; // signed out: keep the "Sign in" link
  const me = await resp.json();
  $('#account-name').textContent = `Signed in as ${me.name || me.email || me.sub}`;
  // Sign-out is a same-origin POST (the edge refuses GET and other sites' POSTs: logout CSRF),
  // so it is a form, not a link.
  const form = document.createElement('form');
  form.method = 'post';
  form.action = '/auth/logout';
  form.id = 'account-link';
  form.style.display = 'inline';
  const button = document.createElement('button');
  button.type = 'submit';
  button.textContent = 'Sign out';
  form.append(button);
  $('#account-link').replaceWith(form);
}

$('#add-form').addEventListener('submit', addNumber);
loadBuild();
loadAccount();
loadStats();
