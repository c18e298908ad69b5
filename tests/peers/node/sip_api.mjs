// Drives switchboard's LiveKit-compatible `livekit.SIP` Twirp API with the official LiveKit
// Node server SDK (npm `livekit-server-sdk`, whose SipClient speaks JSON and sends the
// deprecated top-level fields of CreateSIPDispatchRuleRequest).
//
// usage: node sip_api.mjs [URL [API_KEY [API_SECRET]]]
//
// Missing arguments come from SWITCHBOARD_URL (or LIVEKIT_URL), LIVEKIT_API_KEY and
// LIVEKIT_API_SECRET; the key and secret default to switchboard's `--dev` credentials.
// Prints one PASS/FAIL line per check and a summary; exits 1 when a check failed.
// Everything it creates is deleted again at the end.

import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import {
  RoomAgentDispatch,
  RoomConfiguration,
  SIPDispatchRule,
  SIPDispatchRuleCallee,
  SIPDispatchRuleInfo,
  SipClient,
} from 'livekit-server-sdk';

const [argUrl, argKey, argSecret] = process.argv.slice(2);
const url = argUrl ?? process.env.SWITCHBOARD_URL ?? process.env.LIVEKIT_URL;
const key = argKey ?? process.env.LIVEKIT_API_KEY ?? 'devkey';
const secret = argSecret ?? process.env.LIVEKIT_API_SECRET ?? 'secret';
if (!url) {
  console.error('usage: node sip_api.mjs URL [API_KEY [API_SECRET]]');
  process.exit(2);
}

const sdkVersion = JSON.parse(
  readFileSync(new URL('./node_modules/livekit-server-sdk/package.json', import.meta.url), 'utf8'),
).version;
const sip = new SipClient(url, key, secret);
const run = String(Math.floor(Math.random() * 1000)).padStart(3, '0');
const num = (tail) => `+1555${run}${tail}`;
const startedAt = Date.now();

let passed = 0;
const failures = [];
function check(name, ok, detail = '') {
  if (ok) {
    passed += 1;
    console.log(`PASS ${name}`);
  } else {
    failures.push(name);
    console.log(`FAIL ${name}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}
const show = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));
function eq(name, got, want) {
  return check(name, isDeepStrictEqual(got, want), `expected ${show(want)}, got ${show(got)}`);
}
const sorted = (a) => [...a].sort();
const ids = (items, field) => items.map((i) => i[field]);

function checkTimes(name, info) {
  const c = info.createdAt?.toDate?.();
  const u = info.updatedAt?.toDate?.();
  check(`${name}: createdAt set`, c !== undefined && c.getTime() > 0, show(info.createdAt));
  check(`${name}: updatedAt set`, u !== undefined && u.getTime() > 0, show(info.updatedAt));
  if (c) {
    const now = Date.now();
    check(
      `${name}: createdAt is this run's time`,
      c.getTime() >= startedAt - 120_000 && c.getTime() <= now + 120_000,
      c.toISOString(),
    );
  }
  if (c && u) check(`${name}: updatedAt >= createdAt`, u >= c, `${c.toISOString()} ${u.toISOString()}`);
}

async function expectError(name, fn, code, status, contains = []) {
  try {
    const res = await fn();
    check(`${name} -> ${code}`, false, `the call succeeded and returned ${show(res)}`);
    return res;
  } catch (e) {
    const detail = `${e?.name}: code=${e?.code} status=${e?.status} message=${show(e?.message)}`;
    check(`${name} -> ${code}`, e?.code === code, detail);
    check(`${name} -> HTTP ${status}`, e?.status === status, detail);
    for (const text of contains) {
      check(`${name}: message names ${text}`, String(e?.message).includes(text), detail);
    }
    return undefined;
  }
}

const trunks = {};
const rules = {};

async function step(name, body) {
  console.log(`\n== ${name}`);
  try {
    await body();
  } catch (e) {
    check(
      `${name}: no unexpected error`,
      false,
      `${e?.name}: ${e?.message}${e?.code ? ` (code=${e.code} status=${e.status})` : ''}`,
    );
    if (!e?.code) console.log(e?.stack);
  }
}

async function createTrunks() {
  const t1 = await sip.createSipInboundTrunk('node trunk', [num('0100')], {
    metadata: '{"from":"node"}',
    authUsername: `node${run}`,
    authPassword: 'node-secret',
    allowedAddresses: ['127.0.0.1/32', '192.0.2.0/24'],
    headers: { 'X-Carrier': 'node' },
    ringingTimeout: 15,
  });
  trunks.T1 = t1.sipTrunkId;
  check('createSipInboundTrunk: id assigned', Boolean(t1.sipTrunkId), show(t1));
  eq('createSipInboundTrunk: name', t1.name, 'node trunk');
  eq('createSipInboundTrunk: numbers', t1.numbers, [num('0100')]);

  const t2 = await sip.createSipInboundTrunk('node trunk 2', [num('0200')]);
  trunks.T2 = t2.sipTrunkId;
  check('createSipInboundTrunk (numbers only): id assigned', Boolean(t2.sipTrunkId), show(t2));
}

async function createRules() {
  const r1 = await sip.createSipDispatchRule(
    { type: 'individual', roomPrefix: 'call-', pin: '1234' },
    {
      trunkIds: [trunks.T1],
      name: 'node rule',
      metadata: '{"k":"v"}',
      attributes: { team: 'a' },
      hidePhoneNumber: true,
      roomConfig: new RoomConfiguration({
        agents: [new RoomAgentDispatch({ agentName: 'node-agent', metadata: '{"lang":"de"}' })],
      }),
    },
  );
  rules.R1 = r1.sipDispatchRuleId;
  check('createSipDispatchRule individual (top-level fields): id assigned', Boolean(r1.sipDispatchRuleId), show(r1));
  eq('createSipDispatchRule individual: kind', r1.rule?.rule?.case, 'dispatchRuleIndividual');

  const r2 = await sip.createSipDispatchRule(
    { type: 'direct', roomName: 'node-lobby' },
    { trunkIds: [trunks.T2], name: 'node direct' },
  );
  rules.R2 = r2.sipDispatchRuleId;
  check('createSipDispatchRule direct: id assigned', Boolean(r2.sipDispatchRuleId), show(r2));

  const r3 = await sip.createSipDispatchRule(
    { type: 'callee', roomPrefix: 'num-', pin: '55', randomize: true },
    { name: 'node callee (all trunks)' },
  );
  rules.R3 = r3.sipDispatchRuleId;
  check('createSipDispatchRule callee for all trunks: id assigned', Boolean(r3.sipDispatchRuleId), show(r3));
}

async function listTrunks() {
  const all = await sip.listSipInboundTrunk();
  const allIds = ids(all, 'sipTrunkId');
  check('listSipInboundTrunk: contains both trunks', [trunks.T1, trunks.T2].every((t) => allIds.includes(t)), show(allIds));
  const t1 = all.find((t) => t.sipTrunkId === trunks.T1);
  if (check('listSipInboundTrunk: T1 listed', t1 !== undefined)) {
    eq('T1 round-trip: name', t1.name, 'node trunk');
    eq('T1 round-trip: metadata', t1.metadata, '{"from":"node"}');
    eq('T1 round-trip: numbers', t1.numbers, [num('0100')]);
    eq('T1 round-trip: allowedAddresses', sorted(t1.allowedAddresses), ['127.0.0.1/32', '192.0.2.0/24']);
    eq('T1 round-trip: authUsername', t1.authUsername, `node${run}`);
    eq('T1 round-trip: headers', t1.headers, { 'X-Carrier': 'node' });
    eq('T1 round-trip: ringingTimeout', Number(t1.ringingTimeout?.seconds ?? 0), 15);
    checkTimes('T1', t1);
  }
  eq('listSipInboundTrunk trunkIds=[T1]', ids(await sip.listSipInboundTrunk({ trunkIds: [trunks.T1] }), 'sipTrunkId'), [trunks.T1]);
  const byNumber = ids(await sip.listSipInboundTrunk({ numbers: [`1 555 ${run} 0100`] }), 'sipTrunkId');
  check('listSipInboundTrunk numbers=[formatted T1 number] finds T1', byNumber.includes(trunks.T1), show(byNumber));
  check('listSipInboundTrunk numbers=[formatted T1 number] excludes T2', !byNumber.includes(trunks.T2), show(byNumber));

  const mine = sorted([trunks.T1, trunks.T2]);
  const p1 = ids(await sip.listSipInboundTrunk({ trunkIds: mine, page: { limit: 1 } }), 'sipTrunkId');
  eq('listSipInboundTrunk page limit 1: lowest id', p1, [mine[0]]);
  const p2 = ids(
    await sip.listSipInboundTrunk({ trunkIds: mine, page: { limit: 1, afterId: mine[0] } }),
    'sipTrunkId',
  );
  eq('listSipInboundTrunk page limit 1 after the lowest: the other', p2, [mine[1]]);
}

async function listRules() {
  const all = await sip.listSipDispatchRule();
  const allIds = ids(all, 'sipDispatchRuleId');
  check(
    'listSipDispatchRule: contains all three rules',
    Object.values(rules).every((r) => allIds.includes(r)),
    show(allIds),
  );
  const r1 = all.find((r) => r.sipDispatchRuleId === rules.R1);
  if (check('listSipDispatchRule: R1 listed', r1 !== undefined)) {
    eq('R1 round-trip: kind', r1.rule?.rule?.case, 'dispatchRuleIndividual');
    eq('R1 round-trip: roomPrefix', r1.rule?.rule?.value?.roomPrefix, 'call-');
    eq('R1 round-trip: pin', r1.rule?.rule?.value?.pin, '1234');
    eq('R1 round-trip: trunkIds', r1.trunkIds, [trunks.T1]);
    eq('R1 round-trip: name', r1.name, 'node rule');
    eq('R1 round-trip: metadata', r1.metadata, '{"k":"v"}');
    eq('R1 round-trip: attributes', r1.attributes, { team: 'a' });
    eq('R1 round-trip: hidePhoneNumber', r1.hidePhoneNumber, true);
    eq(
      'R1 round-trip: roomConfig.agents',
      (r1.roomConfig?.agents ?? []).map((a) => [a.agentName, a.metadata]),
      [['node-agent', '{"lang":"de"}']],
    );
    checkTimes('R1', r1);
  }
  const r2 = all.find((r) => r.sipDispatchRuleId === rules.R2);
  if (check('listSipDispatchRule: R2 listed', r2 !== undefined)) {
    eq('R2 round-trip: kind', r2.rule?.rule?.case, 'dispatchRuleDirect');
    eq('R2 round-trip: roomName', r2.rule?.rule?.value?.roomName, 'node-lobby');
  }
  const r3 = all.find((r) => r.sipDispatchRuleId === rules.R3);
  if (check('listSipDispatchRule: R3 listed', r3 !== undefined)) {
    eq('R3 round-trip: kind', r3.rule?.rule?.case, 'dispatchRuleCallee');
    eq('R3 round-trip: randomize', r3.rule?.rule?.value?.randomize, true);
    eq('R3 round-trip: trunkIds (none)', r3.trunkIds, []);
  }
  eq(
    'listSipDispatchRule dispatchRuleIds=[R2]',
    ids(await sip.listSipDispatchRule({ dispatchRuleIds: [rules.R2] }), 'sipDispatchRuleId'),
    [rules.R2],
  );
  const onT1 = ids(await sip.listSipDispatchRule({ trunkIds: [trunks.T1] }), 'sipDispatchRuleId');
  check('listSipDispatchRule trunkIds=[T1] includes R1 and the all-trunks R3', onT1.includes(rules.R1) && onT1.includes(rules.R3), show(onT1));
  check('listSipDispatchRule trunkIds=[T1] excludes R2', !onT1.includes(rules.R2), show(onT1));
}

async function updates() {
  const t = await sip.updateSipInboundTrunkFields(trunks.T1, {
    numbers: { add: [num('0101')] },
    name: 'node trunk (renamed)',
  });
  eq('updateSipInboundTrunkFields: numbers add', sorted(t.numbers), sorted([num('0100'), num('0101')]));
  eq('updateSipInboundTrunkFields: name', t.name, 'node trunk (renamed)');
  eq('updateSipInboundTrunkFields: metadata untouched', t.metadata, '{"from":"node"}');

  const r = await sip.updateSipDispatchRuleFields(rules.R1, {
    trunkIds: { add: [trunks.T2] },
    name: 'node rule (renamed)',
  });
  eq('updateSipDispatchRuleFields: trunkIds add', sorted(r.trunkIds), sorted([trunks.T1, trunks.T2]));
  eq('updateSipDispatchRuleFields: name', r.name, 'node rule (renamed)');
  eq('updateSipDispatchRuleFields: rule untouched', r.rule?.rule?.value?.roomPrefix, 'call-');

  const rep = await sip.updateSipDispatchRule(
    rules.R2,
    new SIPDispatchRuleInfo({
      rule: new SIPDispatchRule({
        rule: { case: 'dispatchRuleCallee', value: new SIPDispatchRuleCallee({ roomPrefix: 'replaced-' }) },
      }),
      trunkIds: [trunks.T2],
      name: 'node replaced',
    }),
  );
  eq('updateSipDispatchRule (replace): kind', rep.rule?.rule?.case, 'dispatchRuleCallee');
  eq('updateSipDispatchRule (replace): name', rep.name, 'node replaced');
  eq('updateSipDispatchRule (replace): id kept', rep.sipDispatchRuleId, rules.R2);
}

async function errors() {
  const before = show(await sip.listSipDispatchRule());
  await expectError(
    'createSipDispatchRule with R1\'s trunk and PIN',
    () => sip.createSipDispatchRule({ type: 'direct', roomName: 'clash', pin: '1234' }, { trunkIds: [trunks.T1] }),
    'already_exists',
    409,
    [rules.R1],
  );
  eq('after the conflict, listSipDispatchRule is unchanged', show(await sip.listSipDispatchRule()), before);
  await expectError(
    'createSipInboundTrunk with T2\'s number',
    () => sip.createSipInboundTrunk('clash', [num('0200')]),
    'already_exists',
    409,
  );
  await expectError(
    'createSipInboundTrunk with allowedAddresses 10.0.0.0/99',
    () => sip.createSipInboundTrunk('bad', [num('0300')], { allowedAddresses: ['10.0.0.0/99'] }),
    'invalid_argument',
    400,
  );
  await expectError(
    'deleteSipDispatchRule (unknown id)',
    () => sip.deleteSipDispatchRule('SDR_doesnotexist'),
    'not_found',
    404,
  );
  await expectError(
    'updateSipInboundTrunkFields (unknown id)',
    () => sip.updateSipInboundTrunkFields('ST_doesnotexist', { name: 'x' }),
    'not_found',
    404,
  );
  const wrong = new SipClient(url, key, `${secret}-wrong`);
  await expectError('listSipInboundTrunk with a wrong secret', () => wrong.listSipInboundTrunk(), 'unauthenticated', 401);
  eq('after the failures, listSipDispatchRule is unchanged', show(await sip.listSipDispatchRule()), before);
}

async function deletes() {
  for (const [label, id] of Object.entries(rules)) {
    const d = await sip.deleteSipDispatchRule(id);
    eq(`deleteSipDispatchRule ${label}: returns its id`, d.sipDispatchRuleId, id);
    delete rules[label];
  }
  for (const [label, id] of Object.entries(trunks)) {
    const d = await sip.deleteSipTrunk(id);
    eq(`deleteSipTrunk ${label}: returns its id`, d.sipTrunkId, id);
    delete trunks[label];
  }
}

async function afterDelete(ruleIds, trunkIds) {
  const leftRules = ids(await sip.listSipDispatchRule(), 'sipDispatchRuleId').filter((r) => ruleIds.includes(r));
  eq('after delete: listSipDispatchRule no longer shows them', leftRules, []);
  const leftTrunks = ids(await sip.listSipInboundTrunk(), 'sipTrunkId').filter((t) => trunkIds.includes(t));
  eq('after delete: listSipInboundTrunk no longer shows them', leftTrunks, []);
}

console.log(`switchboard SDK peer: node livekit-server-sdk ${sdkVersion} against ${url} (run digits ${run})`);
await step('create inbound trunks', createTrunks);
if (trunks.T1 && trunks.T2) {
  await step('create dispatch rules', createRules);
  await step('list inbound trunks', listTrunks);
  if (rules.R1 && rules.R2 && rules.R3) {
    await step('list dispatch rules', listRules);
    await step('updates', updates);
    await step('errors', errors);
  } else {
    check('all dispatch rules created', false, show(rules));
  }
} else {
  check('all trunks created', false, show(trunks));
}
const createdRules = Object.values(rules);
const createdTrunks = Object.values(trunks);
await step('delete', deletes);
await step('after delete', () => afterDelete(createdRules, createdTrunks));

console.log(`\n${passed} passed, ${failures.length} failed`);
for (const name of failures) console.log(`  failed: ${name}`);
process.exit(failures.length ? 1 : 0);
