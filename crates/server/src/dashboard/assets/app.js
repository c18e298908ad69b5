// switchboard dashboard: confirmations, and live figures over server-sent events.
// No framework; everything shown comes from the server's escaped HTML or is set with
// textContent.
'use strict';

document.addEventListener('submit', (e) => {
  const form = e.target;
  const msg = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

(function live() {
  const state = document.getElementById('sse-state');
  if (!state || !window.EventSource) return;
  const ids = new Set();
  for (const el of document.querySelectorAll('[data-live],[data-completed],[data-total]')) {
    ids.add(el.dataset.live || el.dataset.completed || el.dataset.total);
  }
  const url = '/dashboard/events?rules=' + encodeURIComponent([...ids].join(','));
  const source = new EventSource(url);
  let first = true;
  let loading = false;
  let again = false;

  const setState = (s) => { state.dataset.sse = s; state.textContent = s === 'open' ? 'updating' : s; };
  source.onopen = () => setState('open');
  source.onerror = () => {
    setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    if (source.readyState === EventSource.CLOSED) window.location.reload();
  };

  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const res = await fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (res.redirected && new URL(res.url).pathname === '/dashboard/login') {
        window.location.href = res.url;
        return;
      }
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const el of document.querySelectorAll('[data-refresh][id]')) {
        const fresh = doc.getElementById(el.id);
        if (fresh) el.replaceWith(document.importNode(fresh, true));
      }
    } catch (err) {
      console.warn('dashboard refresh failed', err);
    } finally {
      loading = false;
      if (again) { again = false; refresh(); }
    }
  }

  source.addEventListener('figures', (e) => {
    let d;
    try { d = JSON.parse(e.data); } catch { return; }
    for (const el of document.querySelectorAll('[data-live-total]')) el.textContent = String(d.live_total);
    if (!d.error) {
      const counts = (id) => (d.rules && d.rules[id]) || { live: 0, completed: 0, total: 0 };
      for (const el of document.querySelectorAll('[data-live]')) el.textContent = String(counts(el.dataset.live).live);
      for (const el of document.querySelectorAll('[data-completed]')) el.textContent = String(counts(el.dataset.completed).completed);
      for (const el of document.querySelectorAll('[data-total]')) el.textContent = String(counts(el.dataset.total).total);
    }
    document.body.dataset.figures = String((Number(document.body.dataset.figures) || 0) + 1);
    if (!first && document.querySelector('[data-refresh]')) refresh();
    first = false;
  });
})();
