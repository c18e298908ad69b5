#!/usr/bin/env python3
"""Drives switchboard's LiveKit-compatible `livekit.SIP` Twirp API with the official LiveKit
Python server SDK (PyPI `livekit-api`, which speaks binary protobuf).

usage: sip_api.py [URL [API_KEY [API_SECRET]]]

Missing arguments come from SWITCHBOARD_URL (or LIVEKIT_URL), LIVEKIT_API_KEY and
LIVEKIT_API_SECRET; the key and secret default to switchboard's `--dev` credentials
(devkey / secret).

Prints one PASS/FAIL line per check and a summary, and exits 1 when any check failed
(2 on a usage error). Everything it creates is deleted again at the end, so it can run
against a server that already holds other trunks and rules.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import random
import sys
import time
import traceback
import warnings
from importlib.metadata import version
from typing import Any, Awaitable, Callable, Iterable, Optional

from google.protobuf.duration_pb2 import Duration
from livekit import api

# The SDK marks some aliases deprecated; none are used here, but keep the output clean
# if a future SDK version warns about something else.
warnings.simplefilter("ignore", DeprecationWarning)
# PyJWT warns that a development secret such as "secret" is shorter than 32 bytes.
warnings.filterwarnings("ignore", message="The HMAC key is")

HTTP_STATUS = {
    "invalid_argument": 400,
    "malformed": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "already_exists": 409,
    "unimplemented": 501,
}


def short(obj: Any) -> str:
    text = str(obj).replace("\n", " ").strip()
    return text if len(text) <= 300 else text[:300] + "…"


class Run:
    def __init__(self, url: str, key: str, secret: str) -> None:
        self.url, self.key, self.secret = url, key, secret
        self.lk: api.LiveKitAPI  # created in main(): the SDK needs a running event loop
        self.passed = 0
        self.failures: list[str] = []
        # Digits unique to this run, so a rerun against a non-empty server does not collide.
        self.r = f"{random.randrange(1000):03d}"
        self.trunks: dict[str, str] = {}  # label -> id, deleted at the end
        self.rules: dict[str, str] = {}
        self.start = time.time()

    # --- reporting -------------------------------------------------------------------------

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failures.append(name)
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def eq(self, name: str, got: Any, want: Any) -> bool:
        return self.check(name, got == want, f"expected {want!r}, got {got!r}")

    def note(self, text: str) -> None:
        print(f"NOTE {text}", flush=True)

    async def step(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Runs one group of checks; an unexpected exception fails the group and the run
        goes on with the next one."""
        print(f"\n== {name}", flush=True)
        try:
            await body()
        except api.TwirpError as e:
            self.check(
                f"{name}: no unexpected error",
                False,
                f"TwirpError code={e.code} status={e.status} message={e.message!r}",
            )
        except Exception as e:  # noqa: BLE001 - report anything and keep going
            traceback.print_exc()
            self.check(f"{name}: no unexpected error", False, f"{type(e).__name__}: {e}")

    # --- helpers ---------------------------------------------------------------------------

    def num(self, tail: str) -> str:
        """A number in this run's block, E.164 form: +1555<run digits><tail>."""
        return f"+1555{self.r}{tail}"

    def formatted(self, tail: str) -> str:
        """The same number as `num`, written the way people type it."""
        return f"1 555 {self.r} {tail}"

    async def list_trunks(self, **kw: Any) -> list[api.SIPInboundTrunkInfo]:
        resp = await self.lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest(**kw))
        return list(resp.items)

    async def list_rules(self, **kw: Any) -> list[api.SIPDispatchRuleInfo]:
        resp = await self.lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest(**kw))
        return list(resp.items)

    async def trunk(self, trunk_id: str) -> Optional[api.SIPInboundTrunkInfo]:
        items = await self.list_trunks(trunk_ids=[trunk_id])
        found = [t for t in items if t.sip_trunk_id == trunk_id]
        return found[0] if found else None

    async def rule(self, rule_id: str) -> Optional[api.SIPDispatchRuleInfo]:
        items = await self.list_rules(dispatch_rule_ids=[rule_id])
        found = [r for r in items if r.sip_dispatch_rule_id == rule_id]
        return found[0] if found else None

    async def get_trunk(self, trunk_id: str) -> api.SIPInboundTrunkInfo:
        """GetSIPInboundTrunk is part of the livekit.SIP service but has no wrapper in the
        Python SDK; call it through the SDK's own Twirp client and admin token."""
        resp = await self.lk.sip._client.request(
            "SIP",
            "GetSIPInboundTrunk",
            api.GetSIPInboundTrunkRequest(sip_trunk_id=trunk_id),
            self.lk.sip._admin_headers(),
            api.GetSIPInboundTrunkResponse,
        )
        return resp.trunk

    async def snapshot(self) -> tuple:
        trunks = await self.list_trunks()
        rules = await self.list_rules()
        return (
            sorted((t.sip_trunk_id, t.SerializeToString(deterministic=True)) for t in trunks),
            sorted((r.sip_dispatch_rule_id, r.SerializeToString(deterministic=True)) for r in rules),
        )

    @staticmethod
    def diff(before: tuple, after: tuple) -> str:
        out = []
        for kind, b, a in (("trunk", before[0], after[0]), ("rule", before[1], after[1])):
            bd, ad = dict(b), dict(a)
            added = sorted(set(ad) - set(bd))
            removed = sorted(set(bd) - set(ad))
            changed = sorted(k for k in set(ad) & set(bd) if ad[k] != bd[k])
            if added:
                out.append(f"{kind}s added {added}")
            if removed:
                out.append(f"{kind}s removed {removed}")
            if changed:
                out.append(f"{kind}s changed {changed}")
        return "; ".join(out) or "no difference"

    async def expect_error(
        self,
        name: str,
        call: Callable[[], Awaitable[Any]],
        code: str,
        contains: Iterable[str] = (),
    ) -> Optional[api.TwirpError]:
        """Checks that `call` fails with Twirp `code` (and its HTTP status), that the
        message contains each of `contains`, and that trunks and rules are unchanged."""
        before = await self.snapshot()
        err: Optional[api.TwirpError] = None
        try:
            res = await call()
        except api.TwirpError as e:
            err = e
            detail = f"code={e.code} status={e.status} message={e.message!r}"
            self.check(f"{name} -> {code}", e.code == code, f"expected code {code}, got {detail}")
            want_status = HTTP_STATUS.get(code)
            if want_status is not None:
                self.check(
                    f"{name} -> HTTP {want_status}",
                    e.status == want_status,
                    f"expected HTTP {want_status}, got {detail}",
                )
            for text in contains:
                self.check(
                    f"{name}: message names {text}",
                    text in e.message,
                    f"message {e.message!r} does not contain {text!r}",
                )
        else:
            self.check(f"{name} -> {code}", False, f"the call succeeded and returned {short(res)}")
            await self.undo(res, before)
            return None
        after = await self.snapshot()
        self.check(f"{name}: list shows nothing changed", before == after, self.diff(before, after))
        return err

    async def undo(self, res: Any, before: tuple) -> None:
        """When a call that should have failed created something, delete it so that the
        remaining checks start from a known state."""
        known_trunks = {i for i, _ in before[0]}
        known_rules = {i for i, _ in before[1]}
        try:
            if isinstance(res, api.SIPInboundTrunkInfo) and res.sip_trunk_id not in known_trunks:
                await self.lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=res.sip_trunk_id))
            if isinstance(res, api.SIPDispatchRuleInfo) and res.sip_dispatch_rule_id not in known_rules:
                await self.lk.sip.delete_dispatch_rule(
                    api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=res.sip_dispatch_rule_id)
                )
        except Exception as e:  # noqa: BLE001
            self.note(f"could not undo an unexpected success: {e}")

    def check_times(self, name: str, info: Any, created_before: Optional[Any] = None) -> None:
        """created_at and updated_at are set and recent; with `created_before` (an earlier
        copy of the object), created_at is unchanged and updated_at did not go back."""
        now = time.time()
        ok_c = info.HasField("created_at") and info.created_at.seconds > 0
        ok_u = info.HasField("updated_at") and info.updated_at.seconds > 0
        self.check(f"{name}: created_at set", ok_c, f"created_at={info.created_at}")
        self.check(f"{name}: updated_at set", ok_u, f"updated_at={info.updated_at}")
        if ok_c:
            c = info.created_at.ToDatetime(tzinfo=datetime.timezone.utc).timestamp()
            self.check(
                f"{name}: created_at is this run's time",
                self.start - 120 <= c <= now + 120,
                f"created_at={info.created_at.ToJsonString()}, run started {self.start:.0f}, now {now:.0f}",
            )
        if ok_c and ok_u:
            self.check(
                f"{name}: updated_at >= created_at",
                info.updated_at.ToNanoseconds() >= info.created_at.ToNanoseconds(),
                f"created_at={info.created_at.ToJsonString()} updated_at={info.updated_at.ToJsonString()}",
            )
        if created_before is not None:
            self.eq(
                f"{name}: created_at unchanged by the update",
                info.created_at.ToJsonString(),
                created_before.created_at.ToJsonString(),
            )
            self.check(
                f"{name}: updated_at did not go back",
                info.updated_at.ToNanoseconds() >= created_before.updated_at.ToNanoseconds(),
                f"before {created_before.updated_at.ToJsonString()}, after {info.updated_at.ToJsonString()}",
            )

    async def walk_pages(self, name: str, lister: Callable[..., Awaitable[list]], id_of: Callable[[Any], str],
                         limit: int, **filters: Any) -> list[str]:
        """Lists page by page with `limit` and `after_id`, checking every page."""
        seen: list[str] = []
        after = ""
        for page_no in range(1, 1000):
            items = await lister(page=api.Pagination(limit=limit, after_id=after), **filters)
            ids = [id_of(i) for i in items]
            self.check(f"{name}: page {page_no} has at most {limit} items", len(ids) <= limit, f"got {ids}")
            self.check(
                f"{name}: page {page_no} ids ascending and after {after!r}",
                ids == sorted(ids) and all(i > after for i in ids) and len(set(ids)) == len(ids),
                f"after_id={after!r} got {ids}",
            )
            seen.extend(ids)
            if len(ids) < limit:
                break
            after = ids[-1]
        return seen

    # --- inbound trunks --------------------------------------------------------------------

    async def trunks_create(self) -> None:
        n = self.num
        t1 = await self.lk.sip.create_inbound_trunk(
            api.CreateSIPInboundTrunkRequest(
                trunk=api.SIPInboundTrunkInfo(
                    name="numbers trunk",
                    metadata='{"team":"sales"}',
                    numbers=[n("0100"), n("0101")],
                    allowed_numbers=["+14155550000", "+14155550001"],
                    headers={"X-Carrier": "acme", "X-Region": "eu"},
                    headers_to_attributes={"X-Customer-Id": "customer.id"},
                    attributes_to_headers={"agent.lang": "X-Lang"},
                    ringing_timeout=Duration(seconds=20),
                    max_call_duration=Duration(seconds=3600),
                )
            )
        )
        self.trunks["T1"] = t1.sip_trunk_id
        self.check("create trunk with numbers: id assigned", bool(t1.sip_trunk_id), short(t1))
        self.eq("create trunk with numbers: name", t1.name, "numbers trunk")
        self.eq("create trunk with numbers: numbers", sorted(t1.numbers), sorted([n("0100"), n("0101")]))

        t2 = await self.lk.sip.create_inbound_trunk(
            api.CreateSIPInboundTrunkRequest(
                trunk=api.SIPInboundTrunkInfo(
                    name="addresses trunk",
                    numbers=[n("0200")],
                    allowed_addresses=["192.0.2.10", "198.51.100.0/24"],
                )
            )
        )
        self.trunks["T2"] = t2.sip_trunk_id
        self.check("create trunk with allowed_addresses: id assigned", bool(t2.sip_trunk_id), short(t2))
        self.eq(
            "create trunk with allowed_addresses: allowed_addresses",
            sorted(t2.allowed_addresses),
            ["192.0.2.10", "198.51.100.0/24"],
        )

        # Auth only: no numbers and no address filter (a wildcard trunk).
        t3 = await self.lk.sip.create_inbound_trunk(
            api.CreateSIPInboundTrunkRequest(
                trunk=api.SIPInboundTrunkInfo(
                    name="auth trunk", auth_username=f"user{self.r}", auth_password="s3cret-pass"
                )
            )
        )
        self.trunks["T3"] = t3.sip_trunk_id
        self.check("create trunk with auth only: id assigned", bool(t3.sip_trunk_id), short(t3))
        self.eq("create trunk with auth only: auth_username", t3.auth_username, f"user{self.r}")

        for label, tail in (("T4", "0400"), ("T5", "0500")):
            t = await self.lk.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(
                    trunk=api.SIPInboundTrunkInfo(name=f"trunk {label}", metadata=label, numbers=[n(tail)])
                )
            )
            self.trunks[label] = t.sip_trunk_id
            self.check(f"create trunk {label}: id assigned", bool(t.sip_trunk_id), short(t))

        ids = list(self.trunks.values())
        self.eq("trunk ids are unique", len(set(ids)), len(ids))

    async def trunks_get(self) -> None:
        n = self.num
        t1_id = self.trunks["T1"]
        t1 = await self.trunk(t1_id)
        if not self.check("list(trunk_ids=[T1]) returns T1", t1 is not None):
            return
        self.eq("T1 round-trip: name", t1.name, "numbers trunk")
        self.eq("T1 round-trip: metadata", t1.metadata, '{"team":"sales"}')
        self.eq("T1 round-trip: numbers", sorted(t1.numbers), sorted([n("0100"), n("0101")]))
        self.eq("T1 round-trip: allowed_numbers", sorted(t1.allowed_numbers), ["+14155550000", "+14155550001"])
        self.eq("T1 round-trip: headers", dict(t1.headers), {"X-Carrier": "acme", "X-Region": "eu"})
        self.eq("T1 round-trip: headers_to_attributes", dict(t1.headers_to_attributes), {"X-Customer-Id": "customer.id"})
        self.eq("T1 round-trip: attributes_to_headers", dict(t1.attributes_to_headers), {"agent.lang": "X-Lang"})
        self.eq("T1 round-trip: ringing_timeout", t1.ringing_timeout.seconds, 20)
        self.eq("T1 round-trip: max_call_duration", t1.max_call_duration.seconds, 3600)
        self.check_times("T1", t1)

        t3 = await self.trunk(self.trunks["T3"])
        if self.check("list(trunk_ids=[T3]) returns T3", t3 is not None):
            self.eq("T3 round-trip: auth_username", t3.auth_username, f"user{self.r}")
            self.eq("T3 round-trip: numbers (none)", list(t3.numbers), [])
            if t3.auth_password != "s3cret-pass":
                self.note(f"auth_password is not returned as written (got {t3.auth_password!r})")
            self.check_times("T3", t3)

        got = await self.get_trunk(t1_id)
        self.eq("GetSIPInboundTrunk(T1) returns T1", got.sip_trunk_id, t1_id)
        self.eq("GetSIPInboundTrunk(T1) equals the listed T1", got, t1)
        await self.expect_error(
            "GetSIPInboundTrunk(unknown id)", lambda: self.get_trunk("ST_doesnotexist"), "not_found"
        )

    async def trunks_list(self) -> None:
        n, T = self.num, self.trunks
        everything = [t.sip_trunk_id for t in await self.list_trunks()]
        self.check(
            "list trunks (no filter) contains all created",
            set(T.values()) <= set(everything),
            f"missing {sorted(set(T.values()) - set(everything))}",
        )
        self.eq("list trunks (no filter) has no duplicates", len(set(everything)), len(everything))

        got = [t.sip_trunk_id for t in await self.list_trunks(trunk_ids=[T["T3"], T["T1"]])]
        self.eq("list trunks ids=[T3,T1]", sorted(got), sorted([T["T1"], T["T3"]]))

        got = [t.sip_trunk_id for t in await self.list_trunks(numbers=[n("0100")])]
        self.check(f"list trunks numbers=[{n('0100')}] finds T1", T["T1"] in got, f"got {got}")
        self.check(
            f"list trunks numbers=[{n('0100')}] excludes trunks with other numbers",
            not {T["T2"], T["T4"], T["T5"]} & set(got),
            f"got {got}",
        )
        got_fmt = [t.sip_trunk_id for t in await self.list_trunks(numbers=[self.formatted("0100")])]
        self.check(
            f"list trunks numbers=[{self.formatted('0100')!r}] finds T1 ({n('0100')})",
            T["T1"] in got_fmt,
            f"got {got_fmt}",
        )
        self.eq("list trunks: formatted and E.164 number filters agree", sorted(got_fmt), sorted(got))
        self.note(
            "numbers filter and wildcard trunk T3 (no numbers): "
            + ("included (as LiveKit does)" if T["T3"] in got else "not included")
        )

        got = [t.sip_trunk_id for t in await self.list_trunks(trunk_ids=[T["T1"], T["T2"]], numbers=[n("0200")])]
        self.eq("list trunks ids=[T1,T2] numbers=[T2's]", got, [T["T2"]])

        walked = await self.walk_pages("trunk pages (limit 2)", self.list_trunks, lambda t: t.sip_trunk_id, 2)
        self.eq("trunk pages (limit 2) cover exactly the full list", sorted(walked), sorted(everything))
        self.check("trunk pages (limit 2): at least 3 pages", len(walked) >= 5, f"walked {walked}")

        mine = sorted(T.values())
        page = [t.sip_trunk_id for t in await self.list_trunks(trunk_ids=mine, page=api.Pagination(limit=2))]
        self.eq("list trunks ids=all mine, limit 2: the two lowest ids", page, mine[:2])
        page = [
            t.sip_trunk_id
            for t in await self.list_trunks(trunk_ids=mine, page=api.Pagination(limit=2, after_id=mine[1]))
        ]
        self.eq("list trunks ids=all mine, limit 2, after_id=second: the next two", page, mine[2:4])
        page = [t.sip_trunk_id for t in await self.list_trunks(page=api.Pagination(after_id=mine[-1]))]
        self.check(
            "list trunks after_id=highest of mine: only higher ids",
            all(i > mine[-1] for i in page),
            f"got {page}",
        )

    async def trunks_update(self) -> None:
        n, T = self.num, self.trunks
        before = await self.trunk(T["T1"])
        await asyncio.sleep(1.1)  # so that a changed updated_at is visible at second precision
        u = await self.lk.sip.update_inbound_trunk_fields(
            T["T1"],
            numbers=api.ListUpdate(add=[n("0102")], remove=[n("0101")]),
            name="numbers trunk (renamed)",
            metadata='{"team":"support"}',
        )
        self.eq("update T1 fields: returns T1", u.sip_trunk_id, T["T1"])
        self.eq("update T1 fields: numbers add+remove", sorted(u.numbers), sorted([n("0100"), n("0102")]))
        self.eq("update T1 fields: name", u.name, "numbers trunk (renamed)")
        self.eq("update T1 fields: metadata", u.metadata, '{"team":"support"}')
        self.eq("update T1 fields: headers untouched", dict(u.headers), {"X-Carrier": "acme", "X-Region": "eu"})
        self.eq("update T1 fields: allowed_numbers untouched", sorted(u.allowed_numbers), ["+14155550000", "+14155550001"])
        listed = await self.trunk(T["T1"])
        self.eq("update T1 fields: list shows the update", listed, u)
        self.check_times("updated T1", listed, created_before=before)
        if before is not None and listed is not None:
            self.check(
                "updated T1: updated_at moved forward",
                listed.updated_at.ToNanoseconds() > before.updated_at.ToNanoseconds(),
                f"before {before.updated_at.ToJsonString()}, after {listed.updated_at.ToJsonString()}",
            )
        got = [t.sip_trunk_id for t in await self.list_trunks(numbers=[n("0102")])]
        self.check("list trunks numbers=[added number] finds T1", T["T1"] in got, f"got {got}")
        got = [t.sip_trunk_id for t in await self.list_trunks(numbers=[n("0101")])]
        self.check("list trunks numbers=[removed number] no longer finds T1", T["T1"] not in got, f"got {got}")

        u = await self.lk.sip.update_inbound_trunk_fields(
            T["T2"], allowed_addresses=api.ListUpdate(add=["203.0.113.0/24"], remove=["192.0.2.10"])
        )
        self.eq(
            "update T2 fields: allowed_addresses add+remove",
            sorted(u.allowed_addresses),
            ["198.51.100.0/24", "203.0.113.0/24"],
        )
        self.eq("update T2 fields: numbers untouched", list(u.numbers), [n("0200")])

        u = await self.lk.sip.update_inbound_trunk_fields(T["T1"], allowed_numbers=["+14155550009"])
        self.eq("update T1 fields: allowed_numbers set (plain list)", list(u.allowed_numbers), ["+14155550009"])

        before = await self.trunk(T["T5"])
        r = await self.lk.sip.update_inbound_trunk(
            T["T5"],
            api.SIPInboundTrunkInfo(
                name="trunk T5 (replaced)",
                numbers=[n("0501")],
                allowed_addresses=["10.1.2.0/24"],
                headers={"X-Replaced": "yes"},
            ),
        )
        self.eq("replace T5: returns T5", r.sip_trunk_id, T["T5"])
        self.eq("replace T5: name", r.name, "trunk T5 (replaced)")
        self.eq("replace T5: numbers", list(r.numbers), [n("0501")])
        self.eq("replace T5: allowed_addresses", list(r.allowed_addresses), ["10.1.2.0/24"])
        self.eq("replace T5: headers", dict(r.headers), {"X-Replaced": "yes"})
        self.eq("replace T5: metadata cleared (not in the replacement)", r.metadata, "")
        listed = await self.trunk(T["T5"])
        self.eq("replace T5: list shows the replacement", listed, r)
        if listed is not None:
            self.check_times("replaced T5", listed, created_before=before)

    async def trunks_errors(self) -> None:
        n, T = self.num, self.trunks
        await self.expect_error(
            "create trunk with the same number as T4 and no filters",
            lambda: self.lk.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(trunk=api.SIPInboundTrunkInfo(name="dup", numbers=[n("0400")]))
            ),
            "already_exists",
        )
        err = await self.expect_error(
            "create trunk with T4's number written differently",
            lambda: self.lk.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(
                    trunk=api.SIPInboundTrunkInfo(name="dup", numbers=[f"1 (555) {self.r}-0400"])
                )
            ),
            "already_exists",
        )
        if err is not None and T["T4"] not in err.message:
            self.note(f"trunk conflict message does not name the existing trunk {T['T4']}: {err.message!r}")
        await self.expect_error(
            "update T5 (replace) onto T4's number",
            lambda: self.lk.sip.update_inbound_trunk(
                T["T5"], api.SIPInboundTrunkInfo(name="clash", numbers=[n("0400")])
            ),
            "already_exists",
        )
        await self.expect_error(
            "update T3 (no numbers, no filters) fields adding T4's number",
            lambda: self.lk.sip.update_inbound_trunk_fields(T["T3"], numbers=api.ListUpdate(add=[n("0400")])),
            "already_exists",
        )
        await self.expect_error(
            "create trunk with allowed_addresses 10.0.0.0/99",
            lambda: self.lk.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(
                    trunk=api.SIPInboundTrunkInfo(name="bad", numbers=[n("0600")], allowed_addresses=["10.0.0.0/99"])
                )
            ),
            "invalid_argument",
        )
        await self.expect_error(
            "update T2 fields adding allowed_addresses 10.0.0.0/99",
            lambda: self.lk.sip.update_inbound_trunk_fields(
                T["T2"], allowed_addresses=api.ListUpdate(add=["10.0.0.0/99"])
            ),
            "invalid_argument",
        )
        await self.expect_error(
            "create trunk with no numbers, addresses or auth",
            lambda: self.lk.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(trunk=api.SIPInboundTrunkInfo(name="open"))
            ),
            "invalid_argument",
        )
        await self.expect_error(
            "create trunk with auth_username but no auth_password",
            lambda: self.lk.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(
                    trunk=api.SIPInboundTrunkInfo(name="half", numbers=[n("0700")], auth_username="bob")
                )
            ),
            "invalid_argument",
        )
        await self.expect_error(
            "update trunk fields (unknown id)",
            lambda: self.lk.sip.update_inbound_trunk_fields("ST_doesnotexist", name="x"),
            "not_found",
        )
        await self.expect_error(
            "update trunk replace (unknown id)",
            lambda: self.lk.sip.update_inbound_trunk(
                "ST_doesnotexist", api.SIPInboundTrunkInfo(name="x", numbers=[n("0800")])
            ),
            "not_found",
        )
        await self.expect_error(
            "delete trunk (unknown id)",
            lambda: self.lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id="ST_doesnotexist")),
            "not_found",
        )

    # --- dispatch rules --------------------------------------------------------------------

    async def rules_create(self) -> None:
        n, T = self.num, self.trunks
        # New request shape: CreateSIPDispatchRuleRequest.dispatch_rule (field 10).
        r1 = await self.lk.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(
                    rule=api.SIPDispatchRule(
                        dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="call-")
                    ),
                    trunk_ids=[T["T1"]],
                    numbers=[n("0100")],
                    name="individual rule",
                    metadata='{"k":"v"}',
                    attributes={"team": "a", "tier": "gold"},
                    room_config=api.RoomConfiguration(
                        agents=[api.RoomAgentDispatch(agent_name="support-agent", metadata='{"lang":"en"}')]
                    ),
                )
            )
        )
        self.rules["R1"] = r1.sip_dispatch_rule_id
        self.check("create individual rule (dispatch_rule form): id assigned", bool(r1.sip_dispatch_rule_id), short(r1))
        self.eq("create individual rule: kind", r1.rule.WhichOneof("rule"), "dispatch_rule_individual")

        # Deprecated request shape: top-level rule / trunk_ids / name fields.
        r2 = await self.lk.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(
                rule=api.SIPDispatchRule(
                    dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="lobby", pin="1234")
                ),
                trunk_ids=[T["T2"]],
                name="direct rule",
                hide_phone_number=True,
            )
        )
        self.rules["R2"] = r2.sip_dispatch_rule_id
        self.check("create direct rule (top-level fields): id assigned", bool(r2.sip_dispatch_rule_id), short(r2))
        self.eq("create direct rule: kind", r2.rule.WhichOneof("rule"), "dispatch_rule_direct")

        # A rule for every trunk (no trunk_ids), limited to one caller so a rerun cannot clash.
        r3 = await self.lk.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(
                    rule=api.SIPDispatchRule(
                        dispatch_rule_callee=api.SIPDispatchRuleCallee(room_prefix="num-", randomize=True)
                    ),
                    inbound_numbers=[f"+1444{self.r}0000"],
                    name="callee rule (all trunks)",
                )
            )
        )
        self.rules["R3"] = r3.sip_dispatch_rule_id
        self.check("create callee rule for all trunks: id assigned", bool(r3.sip_dispatch_rule_id), short(r3))

        r4 = await self.lk.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(
                    rule=api.SIPDispatchRule(
                        dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="vip-", pin="4321")
                    ),
                    trunk_ids=[T["T4"]],
                    name="pin rule",
                )
            )
        )
        self.rules["R4"] = r4.sip_dispatch_rule_id
        self.check("create individual rule with PIN: id assigned", bool(r4.sip_dispatch_rule_id), short(r4))
        ids = list(self.rules.values())
        self.eq("rule ids are unique", len(set(ids)), len(ids))

    async def rules_get(self) -> None:
        n, T, R = self.num, self.trunks, self.rules
        r1 = await self.rule(R["R1"])
        if self.check("list(dispatch_rule_ids=[R1]) returns R1", r1 is not None):
            self.eq("R1 round-trip: kind", r1.rule.WhichOneof("rule"), "dispatch_rule_individual")
            self.eq("R1 round-trip: room_prefix", r1.rule.dispatch_rule_individual.room_prefix, "call-")
            self.eq("R1 round-trip: pin", r1.rule.dispatch_rule_individual.pin, "")
            self.eq("R1 round-trip: trunk_ids", list(r1.trunk_ids), [T["T1"]])
            self.eq("R1 round-trip: numbers", list(r1.numbers), [n("0100")])
            self.eq("R1 round-trip: name", r1.name, "individual rule")
            self.eq("R1 round-trip: metadata", r1.metadata, '{"k":"v"}')
            self.eq("R1 round-trip: attributes", dict(r1.attributes), {"team": "a", "tier": "gold"})
            agents = [(a.agent_name, a.metadata) for a in r1.room_config.agents]
            self.eq("R1 round-trip: room_config.agents", agents, [("support-agent", '{"lang":"en"}')])
            self.check_times("R1", r1)
        r2 = await self.rule(R["R2"])
        if self.check("list(dispatch_rule_ids=[R2]) returns R2", r2 is not None):
            self.eq("R2 round-trip (top-level fields): kind", r2.rule.WhichOneof("rule"), "dispatch_rule_direct")
            self.eq("R2 round-trip: room_name", r2.rule.dispatch_rule_direct.room_name, "lobby")
            self.eq("R2 round-trip: pin", r2.rule.dispatch_rule_direct.pin, "1234")
            self.eq("R2 round-trip: trunk_ids", list(r2.trunk_ids), [T["T2"]])
            self.eq("R2 round-trip: name", r2.name, "direct rule")
            self.eq("R2 round-trip: hide_phone_number", r2.hide_phone_number, True)
            self.check_times("R2", r2)
        r3 = await self.rule(R["R3"])
        if self.check("list(dispatch_rule_ids=[R3]) returns R3", r3 is not None):
            self.eq("R3 round-trip: kind", r3.rule.WhichOneof("rule"), "dispatch_rule_callee")
            self.eq("R3 round-trip: room_prefix", r3.rule.dispatch_rule_callee.room_prefix, "num-")
            self.eq("R3 round-trip: randomize", r3.rule.dispatch_rule_callee.randomize, True)
            self.eq("R3 round-trip: trunk_ids (none)", list(r3.trunk_ids), [])
            self.eq("R3 round-trip: inbound_numbers", list(r3.inbound_numbers), [f"+1444{self.r}0000"])

    async def rules_list(self) -> None:
        T, R = self.trunks, self.rules
        everything = [r.sip_dispatch_rule_id for r in await self.list_rules()]
        self.check(
            "list rules (no filter) contains all created",
            set(R.values()) <= set(everything),
            f"missing {sorted(set(R.values()) - set(everything))}",
        )
        self.eq("list rules (no filter) has no duplicates", len(set(everything)), len(everything))

        got = [r.sip_dispatch_rule_id for r in await self.list_rules(dispatch_rule_ids=[R["R3"], R["R1"]])]
        self.eq("list rules ids=[R3,R1]", sorted(got), sorted([R["R1"], R["R3"]]))

        items = await self.list_rules(trunk_ids=[T["T1"]])
        got = [r.sip_dispatch_rule_id for r in items]
        self.check("list rules trunk_ids=[T1] includes R1 (on T1)", R["R1"] in got, f"got {got}")
        self.check("list rules trunk_ids=[T1] includes R3 (all trunks)", R["R3"] in got, f"got {got}")
        self.check("list rules trunk_ids=[T1] excludes R2 (T2) and R4 (T4)", not {R["R2"], R["R4"]} & set(got), f"got {got}")
        stray = [r.sip_dispatch_rule_id for r in items if r.trunk_ids and T["T1"] not in r.trunk_ids]
        self.eq("list rules trunk_ids=[T1]: every item is on T1 or on all trunks", stray, [])

        got = [r.sip_dispatch_rule_id for r in await self.list_rules(trunk_ids=[T["T2"], T["T4"]])]
        self.check(
            "list rules trunk_ids=[T2,T4] includes R2, R4 and R3",
            {R["R2"], R["R4"], R["R3"]} <= set(got),
            f"got {got}",
        )
        self.check("list rules trunk_ids=[T2,T4] excludes R1", R["R1"] not in got, f"got {got}")

        got = [
            r.sip_dispatch_rule_id
            for r in await self.list_rules(dispatch_rule_ids=[R["R1"], R["R2"]], trunk_ids=[T["T2"]])
        ]
        self.eq("list rules ids=[R1,R2] trunk_ids=[T2]", got, [R["R2"]])

        walked = await self.walk_pages(
            "rule pages (limit 2)", self.list_rules, lambda r: r.sip_dispatch_rule_id, 2
        )
        self.eq("rule pages (limit 2) cover exactly the full list", sorted(walked), sorted(everything))
        mine = sorted(R.values())
        page = [
            r.sip_dispatch_rule_id
            for r in await self.list_rules(dispatch_rule_ids=mine, page=api.Pagination(limit=2, after_id=mine[0]))
        ]
        self.eq("list rules ids=all mine, limit 2, after_id=lowest: the next two", page, mine[1:3])

    async def rules_update(self) -> None:
        T, R = self.trunks, self.rules
        before = await self.rule(R["R1"])
        await asyncio.sleep(1.1)
        u = await self.lk.sip.update_dispatch_rule_fields(
            R["R1"],
            trunk_ids=api.ListUpdate(add=[T["T4"]]),
            name="individual rule (renamed)",
            metadata='{"k":"w"}',
            attributes={"team": "b"},
        )
        self.eq("update R1 fields: returns R1", u.sip_dispatch_rule_id, R["R1"])
        self.eq("update R1 fields: trunk_ids add", sorted(u.trunk_ids), sorted([T["T1"], T["T4"]]))
        self.eq("update R1 fields: name", u.name, "individual rule (renamed)")
        self.eq("update R1 fields: metadata", u.metadata, '{"k":"w"}')
        self.eq("update R1 fields: attributes merged", dict(u.attributes), {"team": "b", "tier": "gold"})
        self.eq("update R1 fields: rule untouched", u.rule.dispatch_rule_individual.room_prefix, "call-")
        self.eq(
            "update R1 fields: room_config untouched",
            [(a.agent_name, a.metadata) for a in u.room_config.agents],
            [("support-agent", '{"lang":"en"}')],
        )
        listed = await self.rule(R["R1"])
        self.eq("update R1 fields: list shows the update", listed, u)
        if listed is not None:
            self.check_times("updated R1", listed, created_before=before)
            if before is not None:
                self.check(
                    "updated R1: updated_at moved forward",
                    listed.updated_at.ToNanoseconds() > before.updated_at.ToNanoseconds(),
                    f"before {before.updated_at.ToJsonString()}, after {listed.updated_at.ToJsonString()}",
                )
        got = [r.sip_dispatch_rule_id for r in await self.list_rules(trunk_ids=[T["T4"]])]
        self.check("list rules trunk_ids=[T4] now includes R1", R["R1"] in got, f"got {got}")

        u = await self.lk.sip.update_dispatch_rule_fields(R["R1"], trunk_ids=api.ListUpdate(remove=[T["T1"]]))
        self.eq("update R1 fields: trunk_ids remove", list(u.trunk_ids), [T["T4"]])
        u = await self.lk.sip.update_dispatch_rule_fields(R["R1"], attributes={"tier": ""})
        self.eq("update R1 fields: attribute with empty value removed", dict(u.attributes), {"team": "b"})
        u = await self.lk.sip.update_dispatch_rule_fields(
            R["R1"],
            rule=api.SIPDispatchRule(
                dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="support-", pin="9876")
            ),
        )
        self.eq("update R1 fields: rule replaced", u.rule.dispatch_rule_individual.room_prefix, "support-")
        self.eq("update R1 fields: new pin", u.rule.dispatch_rule_individual.pin, "9876")
        self.eq("update R1 fields: name kept", u.name, "individual rule (renamed)")

        before = await self.rule(R["R2"])
        r = await self.lk.sip.update_dispatch_rule(
            R["R2"],
            api.SIPDispatchRuleInfo(
                rule=api.SIPDispatchRule(
                    dispatch_rule_callee=api.SIPDispatchRuleCallee(room_prefix="callee-", randomize=True)
                ),
                trunk_ids=[T["T2"]],
                name="replaced rule",
                attributes={"replaced": "yes"},
            ),
        )
        self.eq("replace R2: returns R2", r.sip_dispatch_rule_id, R["R2"])
        self.eq("replace R2: kind", r.rule.WhichOneof("rule"), "dispatch_rule_callee")
        self.eq("replace R2: room_prefix", r.rule.dispatch_rule_callee.room_prefix, "callee-")
        self.eq("replace R2: name", r.name, "replaced rule")
        self.eq("replace R2: attributes", dict(r.attributes), {"replaced": "yes"})
        self.eq("replace R2: hide_phone_number cleared", r.hide_phone_number, False)
        listed = await self.rule(R["R2"])
        self.eq("replace R2: list shows the replacement", listed, r)
        if listed is not None:
            self.check_times("replaced R2", listed, created_before=before)

    async def rules_errors(self) -> None:
        n, T, R = self.num, self.trunks, self.rules
        # R4: individual on T4 with PIN 4321. Same (trunk_ids, numbers, inbound_numbers, pin):
        await self.expect_error(
            "create rule with R4's trunk and PIN (top-level fields)",
            lambda: self.lk.sip.create_dispatch_rule(
                api.CreateSIPDispatchRuleRequest(
                    rule=api.SIPDispatchRule(
                        dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="other", pin="4321")
                    ),
                    trunk_ids=[T["T4"]],
                    name="conflicting",
                )
            ),
            "already_exists",
            contains=[R["R4"]],
        )
        # R1 after the updates: trunk T4, numbers [+1555…0100], PIN 9876. The number written
        # differently is the same number.
        await self.expect_error(
            "create rule with R1's trunk, PIN and number written differently",
            lambda: self.lk.sip.create_dispatch_rule(
                api.CreateSIPDispatchRuleRequest(
                    dispatch_rule=api.SIPDispatchRuleInfo(
                        rule=api.SIPDispatchRule(
                            dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="x-", pin="9876")
                        ),
                        trunk_ids=[T["T4"]],
                        numbers=[self.formatted("0100")],
                        name="conflicting",
                    )
                )
            ),
            "already_exists",
            contains=[R["R1"]],
        )
        await self.expect_error(
            "update R2 fields onto R4's trunk and PIN",
            lambda: self.lk.sip.update_dispatch_rule_fields(
                R["R2"],
                trunk_ids=[T["T4"]],
                rule=api.SIPDispatchRule(
                    dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="clash", pin="4321")
                ),
            ),
            "already_exists",
            contains=[R["R4"]],
        )
        # Replacing R3 so that it equals R4's (trunk, numbers, inbound, pin).
        await self.expect_error(
            "replace R3 with R4's trunk and PIN",
            lambda: self.lk.sip.update_dispatch_rule(
                R["R3"],
                api.SIPDispatchRuleInfo(
                    rule=api.SIPDispatchRule(
                        dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="y-", pin="4321")
                    ),
                    trunk_ids=[T["T4"]],
                ),
            ),
            "already_exists",
            contains=[R["R4"]],
        )
        await self.expect_error(
            "create direct rule with an empty room_name",
            lambda: self.lk.sip.create_dispatch_rule(
                api.CreateSIPDispatchRuleRequest(
                    dispatch_rule=api.SIPDispatchRuleInfo(
                        rule=api.SIPDispatchRule(dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="")),
                        trunk_ids=[T["T5"]],
                    )
                )
            ),
            "invalid_argument",
        )
        await self.expect_error(
            "update rule fields (unknown id)",
            lambda: self.lk.sip.update_dispatch_rule_fields("SDR_doesnotexist", name="x"),
            "not_found",
        )
        await self.expect_error(
            "update rule replace (unknown id)",
            lambda: self.lk.sip.update_dispatch_rule(
                "SDR_doesnotexist",
                api.SIPDispatchRuleInfo(
                    rule=api.SIPDispatchRule(dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="r")),
                    trunk_ids=[T["T5"]],
                ),
            ),
            "not_found",
        )
        await self.expect_error(
            "delete rule (unknown id)",
            lambda: self.lk.sip.delete_dispatch_rule(
                api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id="SDR_doesnotexist")
            ),
            "not_found",
        )

    # --- authentication and unsupported methods --------------------------------------------

    def client_with(self, token: str) -> api.LiveKitAPI:
        return api.LiveKitAPI(self.url, token=token)

    async def with_token(self, token: str, fn: Callable[[api.LiveKitAPI], Awaitable[Any]]) -> Any:
        c = self.client_with(token)
        try:
            return await fn(c)
        finally:
            await c.aclose()

    async def auth(self) -> None:
        n = self.num
        admin = api.SIPGrants(admin=True)

        def create(c: api.LiveKitAPI) -> Awaitable[Any]:
            return c.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(trunk=api.SIPInboundTrunkInfo(name="intruder", numbers=[n("0900")]))
            )

        def list_(c: api.LiveKitAPI) -> Awaitable[Any]:
            return c.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())

        wrong_secret = api.AccessToken(self.key, self.secret + "-wrong").with_sip_grants(admin).to_jwt()
        expired = (
            api.AccessToken(self.key, self.secret)
            .with_sip_grants(admin)
            .with_ttl(datetime.timedelta(hours=-2))
            .to_jwt()
        )
        unknown_key = api.AccessToken(self.key + "-unknown", self.secret).with_sip_grants(admin).to_jwt()
        no_sip = api.AccessToken(self.key, self.secret).with_grants(api.VideoGrants(room_admin=True)).to_jwt()
        call_only = api.AccessToken(self.key, self.secret).with_sip_grants(api.SIPGrants(call=True)).to_jwt()

        cases = [
            ("token signed with the wrong secret", wrong_secret, "unauthenticated"),
            ("expired token", expired, "unauthenticated"),
            ("token for an unknown API key", unknown_key, "unauthenticated"),
            ("token without a SIP grant", no_sip, "permission_denied"),
            ("token with sip.call but not sip.admin", call_only, "permission_denied"),
            ("malformed token", "not-a-jwt", "unauthenticated"),
        ]
        for label, token, code in cases:
            await self.expect_error(f"create trunk with {label}", lambda t=token: self.with_token(t, create), code)
            await self.expect_error(f"list trunks with {label}", lambda t=token: self.with_token(t, list_), code)

        ok = await self.with_token(
            api.AccessToken(self.key, self.secret).with_sip_grants(admin).to_jwt(), list_
        )
        self.check("list trunks with a valid pre-signed admin token", ok is not None)

    async def unimplemented(self) -> None:
        await self.expect_error(
            "create outbound trunk",
            lambda: self.lk.sip.create_outbound_trunk(
                api.CreateSIPOutboundTrunkRequest(
                    trunk=api.SIPOutboundTrunkInfo(name="out", address="sip.example.com", numbers=["+15550000"])
                )
            ),
            "unimplemented",
        )
        await self.expect_error(
            "list outbound trunks",
            lambda: self.lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest()),
            "unimplemented",
        )
        await self.expect_error(
            "create SIP participant",
            lambda: self.lk.sip.create_sip_participant(
                api.CreateSIPParticipantRequest(
                    sip_trunk_id="ST_doesnotexist", sip_call_to="+15550000", room_name="room"
                )
            ),
            "unimplemented",
        )

    # --- deletion --------------------------------------------------------------------------

    async def deletes(self) -> None:
        T, R = self.trunks, self.rules
        d = await self.lk.sip.delete_dispatch_rule(api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=R["R4"]))
        self.eq("delete R4: returns R4", d.sip_dispatch_rule_id, R["R4"])
        self.check("delete R4: gone from list", await self.rule(R["R4"]) is None)
        all_rules = [r.sip_dispatch_rule_id for r in await self.list_rules()]
        self.check("delete R4: not in the unfiltered list", R["R4"] not in all_rules, f"got {all_rules}")
        await self.expect_error(
            "delete R4 again",
            lambda: self.lk.sip.delete_dispatch_rule(api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=R["R4"])),
            "not_found",
        )
        del R["R4"]

        d = await self.lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=T["T5"]))
        self.eq("delete T5: returns T5", d.sip_trunk_id, T["T5"])
        self.check("delete T5: gone from list", await self.trunk(T["T5"]) is None)
        await self.expect_error(
            "delete T5 again",
            lambda: self.lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=T["T5"])),
            "not_found",
        )
        await self.expect_error(
            "update deleted T5",
            lambda: self.lk.sip.update_inbound_trunk_fields(T["T5"], name="ghost"),
            "not_found",
        )
        del T["T5"]

    async def cleanup(self) -> None:
        """Deletes everything this run created (rules first, then trunks)."""
        for label, rid in list(self.rules.items()):
            d = await self.lk.sip.delete_dispatch_rule(api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rid))
            self.eq(f"delete {label}", d.sip_dispatch_rule_id, rid)
            del self.rules[label]
        for label, tid in list(self.trunks.items()):
            d = await self.lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=tid))
            self.eq(f"delete {label}", d.sip_trunk_id, tid)
            del self.trunks[label]

    async def main(self) -> int:
        self.lk = api.LiveKitAPI(self.url, self.key, self.secret)
        print(
            f"switchboard SDK peer: python livekit-api {version('livekit-api')}, "
            f"livekit-protocol {version('livekit-protocol')}, against {self.url} (run digits {self.r})",
            flush=True,
        )
        try:
            await self.step("inbound trunks: create", self.trunks_create)
            if len(self.trunks) == 5:
                await self.step("inbound trunks: get", self.trunks_get)
                await self.step("inbound trunks: list, filters, pagination", self.trunks_list)
                await self.step("inbound trunks: update (fields) and replace", self.trunks_update)
                await self.step("inbound trunks: errors", self.trunks_errors)
                await self.step("dispatch rules: create", self.rules_create)
                if len(self.rules) == 4:
                    await self.step("dispatch rules: get", self.rules_get)
                    await self.step("dispatch rules: list, filters, pagination", self.rules_list)
                    await self.step("dispatch rules: update (fields) and replace", self.rules_update)
                    await self.step("dispatch rules: errors", self.rules_errors)
                    await self.step("delete", self.deletes)
                else:
                    self.check("all dispatch rules created", False, f"created {sorted(self.rules)}")
            else:
                self.check("all trunks created", False, f"created {sorted(self.trunks)}")
            await self.step("authentication and authorization", self.auth)
            await self.step("unimplemented methods", self.unimplemented)
        finally:
            await self.step("cleanup", self.cleanup)
            await self.lk.aclose()
        print(f"\n{self.passed} passed, {len(self.failures)} failed", flush=True)
        for name in self.failures:
            print(f"  failed: {name}")
        return 1 if self.failures else 0


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    url = args[0] if len(args) > 0 else os.environ.get("SWITCHBOARD_URL") or os.environ.get("LIVEKIT_URL")
    key = args[1] if len(args) > 1 else os.environ.get("LIVEKIT_API_KEY", "devkey")
    secret = args[2] if len(args) > 2 else os.environ.get("LIVEKIT_API_SECRET", "secret")
    if not url:
        print(__doc__, file=sys.stderr)
        return 2
    return asyncio.run(Run(url, key, secret).main())


if __name__ == "__main__":
    sys.exit(main())
