// The dashboard in headless Chromium, driven by Playwright (playwright-core, the system's
// /usr/bin/chromium). Run by crates/server/tests/dashboard.rs, which starts the server and
// places SIPp calls when this script prints `@@sipp <json>` (answer on stdin: `@@ok <json>`).
//
// Every wait is for a condition with a timeout; nothing sleeps a fixed time.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import path from 'node:path';

const BASE = process.env.SB_URL;
const KEY = process.env.SB_API_KEY;
const SECRET = process.env.SB_API_SECRET;
const ADMIN_PASSWORD = process.env.SB_ADMIN_PASSWORD;
const SHOTS = process.env.SB_SCREENSHOTS;
const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
assert.ok(BASE && KEY && SECRET && SHOTS, 'SB_URL, SB_API_KEY, SB_API_SECRET and SB_SCREENSHOTS are required');

const ROUTE_NUMBER = '+15550142';
const AUTO_NUMBER = '+15550143';
const CALLER = '+15557654321';
// How long a live figure may take to reach the page (the requirement is 1 s; the margin is
// for a loaded test machine).
const LIVE_TIMEOUT = 5000;

// --- the harness protocol -----------------------------------------------------------------
const answers = [];
const waiting = [];
createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.startsWith('@@ok ')) return;
  const value = JSON.parse(line.slice(5));
  const w = waiting.shift();
  if (w) w(value); else answers.push(value);
});
function sipp(request) {
  console.log('@@sipp ' + JSON.stringify(request));
  return new Promise((resolve, reject) => {
    if (answers.length) return resolve(answers.shift());
    const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(request)}`)), 90_000);
    waiting.push((v) => { clearTimeout(timer); resolve(v); });
  });
}

const step = (s) => console.log(`-- ${s}`);
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const text = async (page, selector) => ((await page.locator(selector).first().textContent()) || '').trim();
async function waitText(page, selector, expected, timeout = LIVE_TIMEOUT) {
  const started = Date.now();
  await page.waitForFunction(
    ([sel, want]) => { const el = document.querySelector(sel); return el && el.textContent.trim() === want; },
    [selector, expected],
    { timeout },
  );
  return Date.now() - started;
}
const pad = (n) => String(n).padStart(2, '0');
const isoDate = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const hhmm = (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
let failed = false;
try {
  // --- refused without a session --------------------------------------------------------
  step('unauthenticated access is refused');
  const anon = await browser.newContext();
  const anonPage = await anon.newPage();
  for (const p of ['/', '/dashboard/rules', '/dashboard/live', '/dashboard/calls', '/dashboard/explain', '/dashboard/trunks', '/dashboard/agents']) {
    await anonPage.goto(BASE + p);
    assert.equal(new URL(anonPage.url()).pathname, '/dashboard/login', `${p} did not redirect to the login page`);
  }
  for (const p of ['/dashboard/events', '/api/v1/calls', '/api/v1/policies']) {
    const r = await anon.request.get(BASE + p, { maxRedirects: 0 });
    assert.equal(r.status(), 401, `${p} answered ${r.status()} without credentials`);
  }
  const post = await anon.request.post(BASE + '/dashboard/rules/new', { form: { name: 'x' }, maxRedirects: 0 });
  assert.ok([302, 303, 401, 403].includes(post.status()), `an anonymous form post answered ${post.status()}`);
  assert.ok(!(await anon.request.get(BASE + '/dashboard/rules', { maxRedirects: 0 })).headers()['set-cookie']?.includes('sb_session='));
  await shot(anonPage, 'login');

  // --- log in ---------------------------------------------------------------------------
  step('log in (a wrong secret first)');
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await ctx.newPage();
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (e) => { console.error('page error:', e); failed = true; });
  await page.goto(BASE + '/dashboard/live');
  await page.fill('input[name=api_key]', KEY);
  await page.fill('input[name=api_secret]', 'not-the-secret');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('.notice.error');
  assert.match(await text(page, '.notice.error'), /wrong API key/);
  assert.equal(await page.inputValue('input[name=api_key]'), KEY, 'the API key typed was lost');
  await page.fill('input[name=api_secret]', SECRET);
  await page.click('#login-form button[type=submit]');
  await page.waitForURL(BASE + '/dashboard/live');
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === 'sb_session');
  assert.ok(session, 'no session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(session.expires > Date.now() / 1000, 'the session cookie has no expiry');

  // --- create a route with a schedule ---------------------------------------------------
  step('create a route: a validation error first, nothing typed is lost');
  await page.click('text=Inbound rules');
  await page.click('text=Create route');
  const now = new Date();
  const hostile = 'Support <script>window.__xss = 1</script>';
  await page.fill('#f-name', hostile);
  await page.fill('#f-number', ROUTE_NUMBER);
  await page.click('summary:has-text("Access for a new number")');
  await page.fill('#f-allowed_addresses', '127.0.0.1');
  await page.fill('#f-agent_name', 'support-agent');
  await page.fill('#f-agent_config', '{"greeting": "Hello"'); // broken JSON
  await page.click('summary:has-text("Schedule & Rules")');
  await page.fill('#f-timezone', 'UTC');
  await page.fill('#f-max_concurrent_calls', '2');
  await page.fill('#f-start_date', isoDate(new Date(now.getTime() - 86400_000)));
  await page.fill('#f-end_date', isoDate(new Date(now.getTime() + 30 * 86400_000)));
  // A window open now: from an hour ago to two hours ahead (it may cross midnight).
  await page.fill('#f-window_start', hhmm(new Date(now.getTime() - 3600_000)));
  await page.fill('#f-window_end', hhmm(new Date(now.getTime() + 2 * 3600_000)));
  for (const d of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']) await page.check(`input[name=day][value=${d}]`);
  await page.click('#route-form button[type=submit]');
  await page.waitForSelector('#form-errors');
  assert.match(await text(page, '#form-errors'), /agent_config is not valid JSON/);
  assert.equal(await page.inputValue('#f-name'), hostile, 'the name typed was lost');
  assert.equal(await page.inputValue('#f-number'), ROUTE_NUMBER);
  assert.equal(await page.inputValue('#f-timezone'), 'UTC');
  assert.equal(await page.inputValue('#f-max_concurrent_calls'), '2');
  assert.equal(await page.locator('input[name=day]:checked').count(), 7, 'the ticked days were lost');
  await shot(page, 'route-form-error');

  step('save the route: it is live at once');
  await page.fill('#f-agent_config', '{"greeting": "Hello"}');
  await page.click('#route-form button[type=submit]');
  await page.waitForURL(/\/dashboard\/rules\/SDR_[^/?]+\?notice=created/);
  const ruleId = await text(page, '#rule-id');
  assert.match(ruleId, /^SDR_/);
  assert.equal(await text(page, 'h1'), hostile, 'the rule name is not shown as text');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'a script in the rule name ran');
  assert.equal(await text(page, '#route-status'), 'active');
  assert.equal(await text(page, '#assigned-agent'), 'support-agent');
  assert.equal(await text(page, '#phone-number'), ROUTE_NUMBER);
  assert.match(await text(page, '#ended'), /Still active/);
  assert.equal(await text(page, '#live-in-progress'), '0');
  assert.equal(await text(page, '#total-completed'), '0');
  await page.waitForSelector('#sse-state[data-sse=open]');
  await shot(page, 'route-detail');

  // --- a call rings: Live In Progress 1, then 0 after a hang-up from the Live calls page --
  step('place a call: Live In Progress goes to 1 without a reload');
  await sipp({ op: 'ring', name: 'ringing', number: ROUTE_NUMBER, from: CALLER });
  const upMs = await waitText(page, '#live-in-progress', '1');
  console.log(`live figure reached the page ${upMs} ms after the call was started`);
  await page.waitForSelector(`#recent tr[data-call] >> text=${CALLER}`, { timeout: LIVE_TIMEOUT });
  await shot(page, 'route-live');

  step('hang the call up from the Live calls page');
  const live = await ctx.newPage();
  live.on('dialog', (d) => d.accept());
  await live.goto(BASE + '/dashboard/live');
  await live.waitForSelector('#live tr[data-call] button:has-text("Hang up")');
  assert.equal(await text(live, '[data-live-total]'), '1');
  await shot(live, 'live-calls');
  await live.click('#live tr[data-call] button:has-text("Hang up")');
  await live.waitForURL(/notice=hangup/);

  step('Live In Progress goes back to 0 and the call is in the recent calls log');
  const downMs = await waitText(page, '#live-in-progress', '0');
  console.log(`live figure dropped ${downMs} ms after the hang-up`);
  await page.waitForFunction(() => {
    const row = document.querySelector('#recent tr[data-call]');
    return row && row.textContent.includes('480') && row.textContent.includes('hangup_api');
  }, null, { timeout: LIVE_TIMEOUT });
  await waitText(page, '#recent-calls', '1');
  await shot(page, 'route-after-hangup');
  const rang = await sipp({ op: 'wait', name: 'ringing' });
  assert.equal(rang.code, 0, 'SIPp did not get the 480 it expected');
  await live.waitForSelector('#live >> text=No calls.', { timeout: LIVE_TIMEOUT });

  // --- an answered call on an agent-less route completes ----------------------------------
  step('a second route (automatic dispatch, no schedule): an answered call completes');
  await page.goto(BASE + '/dashboard/rules/new');
  await page.fill('#f-name', 'Front desk');
  await page.fill('#f-number', AUTO_NUMBER);
  await page.click('summary:has-text("Access for a new number")');
  await page.fill('#f-allowed_addresses', '127.0.0.1');
  await page.click('#route-form button[type=submit]');
  await page.waitForURL(/notice=created/);
  const autoId = await text(page, '#rule-id');
  await page.waitForSelector('#sse-state[data-sse=open]');
  await sipp({ op: 'answer', name: 'answered', number: AUTO_NUMBER, from: CALLER, hold_ms: 2500 });
  await waitText(page, '#live-in-progress', '1');
  await waitText(page, '#live-in-progress', '0', 15000);
  await waitText(page, '#total-completed', '1');
  await page.waitForFunction(() => {
    const row = document.querySelector('#recent tr[data-call]');
    return row && row.textContent.includes('completed') && row.textContent.includes('200');
  }, null, { timeout: LIVE_TIMEOUT });
  const answered = await sipp({ op: 'wait', name: 'answered' });
  assert.equal(answered.code, 0, 'the answered SIPp call failed');

  // --- the other pages ------------------------------------------------------------------
  step('rules list: search, statuses, counts');
  await page.goto(BASE + '/dashboard/rules');
  await page.waitForSelector(`tr[data-rule="${ruleId}"]`);
  assert.equal(await text(page, `tr[data-rule="${autoId}"] [data-completed]`), '1');
  assert.equal(await text(page, `tr[data-rule="${ruleId}"] .badge`), 'active');
  await page.fill('input[name=q]', AUTO_NUMBER);
  await page.click('form.search button');
  await page.waitForURL(/q=/);
  assert.equal(await page.locator('tr[data-rule]').count(), 1);
  await page.goto(BASE + '/dashboard/rules');
  await shot(page, 'rules');

  step('trunks and agents');
  await page.goto(BASE + '/dashboard/trunks');
  await page.waitForSelector(`#trunks >> text=${ROUTE_NUMBER}`);
  assert.ok(!(await page.content()).includes('dashboard-admin-password'));
  await shot(page, 'trunks');
  await page.goto(BASE + '/dashboard/agents');
  await page.waitForSelector('#endpoints');
  await shot(page, 'agents');

  step('calls search');
  await page.goto(BASE + '/dashboard/calls');
  await page.fill('#calls-search input[name=number]', CALLER);
  await page.selectOption('#calls-search select[name=status]', 'completed');
  await page.click('#calls-search button');
  await page.waitForURL(/status=completed/);
  assert.equal(await page.locator('#calls tr[data-call]').count(), 1);
  await page.selectOption('#calls-search select[name=status]', '');
  await page.click('#calls-search button');
  await page.waitForFunction(() => document.querySelectorAll('#calls tr[data-call]').length === 2);
  await shot(page, 'calls');

  step('explain');
  await page.goto(BASE + '/dashboard/explain');
  await page.fill('#x-to', ROUTE_NUMBER);
  await page.fill('#x-from', CALLER);
  await page.fill('#x-source_ip', '127.0.0.1');
  await page.click('#explain-form button[type=submit]');
  await page.waitForSelector('#explain-result');
  assert.equal(await text(page, '#decision'), 'accept');
  assert.equal(await text(page, '#explain-rule'), ruleId);
  assert.equal(await page.inputValue('#x-to'), ROUTE_NUMBER);
  await shot(page, 'explain');
  await page.fill('#x-source_ip', '198.51.100.9');
  await page.click('#explain-form button[type=submit]');
  await page.waitForSelector('#explain-result');
  assert.equal(await text(page, '#decision'), 'reject');

  // --- forms need the session's CSRF token and this origin --------------------------------
  step('CSRF: a post without the token, or from another origin, is refused');
  const noToken = await ctx.request.post(BASE + '/dashboard/rules/new', { form: { name: 'x', number: '+15550199' }, maxRedirects: 0 });
  assert.equal(noToken.status(), 403);
  const csrf = await page.getAttribute('meta[name=csrf-token]', 'content');
  const foreign = await ctx.request.post(BASE + `/dashboard/rules/${autoId}/delete`, {
    form: { csrf }, headers: { Origin: 'https://evil.example' }, maxRedirects: 0,
  });
  assert.equal(foreign.status(), 403);

  step('delete a route (confirmed)');
  await page.goto(BASE + '/dashboard/rules');
  await page.click(`tr[data-rule="${autoId}"] button:has-text("Delete")`);
  await page.waitForURL(/notice=deleted/);
  assert.equal(await page.locator(`tr[data-rule="${autoId}"]`).count(), 0);

  // --- the admin password, logout and revocation ----------------------------------------
  step('log out: the old cookie no longer works');
  const before = (await ctx.cookies()).find((c) => c.name === 'sb_session').value;
  await page.click('header form button:has-text("Log out")');
  await page.waitForURL(/\/dashboard\/login/);
  const replay = await anon.request.get(BASE + '/dashboard/rules', { headers: { Cookie: `sb_session=${before}` }, maxRedirects: 0 });
  assert.equal(replay.status(), 303, 'a logged-out session cookie was still accepted');
  const replayEvents = await anon.request.get(BASE + '/dashboard/events', { headers: { Cookie: `sb_session=${before}` }, maxRedirects: 0 });
  assert.equal(replayEvents.status(), 401);

  if (ADMIN_PASSWORD) {
    step('log in with the admin password');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForURL(/\/dashboard\/rules/);
    assert.match(await text(page, 'header .who'), /admin/);
  }
  if (failed) throw new Error('a page raised a script error (see above)');
  step('done');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
