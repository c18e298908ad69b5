#!/usr/bin/env python3
"""A small switchboard agent worker (docs/agent-protocol.md) in Python.

Registers under an agent name, accepts every job (up to --max-jobs at once), says ready,
plays a 440 Hz tone for one second, then echoes the caller's audio back. Prints the events.

    pip install -r examples/python/requirements.txt
    python3 examples/python/agent.py --url http://127.0.0.1:7880 \
        --api-key devkey --api-secret secret --agent-name echo

Plain ws:// (an http:// URL is turned into ws://); for https:// the URL becomes wss://.
"""

import argparse
import asyncio
import json
import math
import os
import struct
import sys
import time
import warnings

import jwt  # PyJWT
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

SAMPLE_RATES = (8000, 16000, 24000, 48000)

# Development secrets (`serve --dev`: "secret") are shorter than PyJWT recommends.
warnings.filterwarnings("ignore", message="The HMAC key is")
FRAME_MS = 20


def mint_token(api_key, api_secret, identity, ttl=3600):
    """An HS256 JWT with LiveKit's agent grant: iss = key, sub = identity, video.agent."""
    now = int(time.time())
    claims = {
        "iss": api_key,
        "sub": identity,
        "nbf": now,
        "exp": now + ttl,
        "video": {"agent": True},
    }
    return jwt.encode(claims, api_secret, algorithm="HS256")


def control_url(base):
    """http://host:port → ws://host:port/agent."""
    base = base.strip().rstrip("/")
    for old, new in (("http://", "ws://"), ("https://", "wss://")):
        if base.startswith(old):
            base = new + base[len(old):]
    if "://" not in base:
        base = "ws://" + base
    return base if base.endswith("/agent") else base + "/agent"


def tone(sample_rate, hz=440.0, seconds=1.0, amplitude=0.3):
    """PCM16 little-endian mono."""
    n = int(sample_rate * seconds)
    k = 2 * math.pi * hz / sample_rate
    return struct.pack(f"<{n}h", *(int(amplitude * 32767 * math.sin(k * i)) for i in range(n)))


def frames(pcm, sample_rate, ms=FRAME_MS):
    """Splits PCM16 bytes into frames of `ms` milliseconds (well under the 64 KiB limit)."""
    step = sample_rate * ms // 1000 * 2
    return [pcm[i:i + step] for i in range(0, len(pcm), step)]


def refusal(e, media=False):
    """A readable message for an HTTP answer to the WebSocket upgrade."""
    status = e.response.status_code
    body = (e.response.body or b"").decode("utf-8", "replace").strip()
    try:
        j = json.loads(body)
        body = f"{j.get('code', '')}: {j.get('msg') or j.get('message') or ''}"
    except ValueError:
        pass
    said = f" ({body})" if body else ""
    if media:
        return (f"the server refused the media token with HTTP {status}{said}: it is valid once, "
                "for 30 s after the assignment")
    if status == 401:
        return (f"the server refused the token with HTTP 401{said}: check --api-key/--api-secret "
                "(`switchboard serve --dev` uses devkey / secret)")
    if status == 403:
        return f"the server refused the token with HTTP 403{said}: it needs the agent grant (video.agent)"
    if status == 404:
        return (f"no agent endpoint (HTTP 404{said}): --url must be switchboard's HTTP address, "
                "and the server must support agents")
    return f"the server answered the WebSocket upgrade with HTTP {status}{said}"


class Worker:
    def __init__(self, args):
        self.args = args
        self.ws = None
        self.offers = {}      # job_id -> offer
        self.jobs = {}        # job_id -> asyncio.Task
        self.worker_id = None

    async def send(self, msg):
        await self.ws.send(json.dumps(msg))

    async def run(self):
        a = self.args
        identity = a.identity or f"py-worker-{a.agent_name or 'auto'}-{os.getpid()}"
        token = mint_token(a.api_key, a.api_secret, identity)
        url = control_url(a.url)
        try:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                               compression=None, max_size=1 << 20)
        except InvalidStatus as e:
            sys.exit(f"agent.py: {refusal(e)}")
        except OSError as e:
            sys.exit(f"agent.py: cannot connect to {url}: {e}; is switchboard running "
                     "(`switchboard serve --dev`)?")
        async with ws:
            self.ws = ws
            await self.send({"type": "register", "agent_name": a.agent_name, "version": "py-0.1",
                             "max_jobs": a.max_jobs, "audio": {"sample_rate": a.sample_rate}})
            registered = await self.await_registered()
            self.worker_id = registered["worker_id"]
            interval = registered.get("ping_interval_ms", 10000) / 1000
            print(f"registered as {self.worker_id} for agent {a.agent_name!r} at {a.url} "
                  f"({a.sample_rate} Hz); server {registered.get('server_version', '?')}",
                  flush=True)
            if a.register_only:
                return
            pinger = asyncio.create_task(self.ping_every(interval))
            try:
                async for raw in ws:
                    if isinstance(raw, str):
                        await self.handle(json.loads(raw))
            except ConnectionClosed as e:
                print(f"control connection closed: {e}", flush=True)
            finally:
                pinger.cancel()
                for t in self.jobs.values():
                    t.cancel()

    async def await_registered(self):
        try:
            async with asyncio.timeout(10):
                while True:
                    raw = await self.ws.recv()
                    if not isinstance(raw, str):
                        continue
                    msg = json.loads(raw)
                    if msg.get("type") == "registered":
                        return msg
                    if msg.get("type") == "ping":
                        await self.send({"type": "pong", "ts": msg.get("ts")})
                    elif msg.get("type") == "error":
                        sys.exit(f"agent.py: registration refused ({msg.get('code')}): "
                                 f"{msg.get('message')}")
        except TimeoutError:
            sys.exit("agent.py: no `registered` within 10 s")
        except ConnectionClosed as e:
            sys.exit(f"agent.py: the server closed the connection during registration: {e}")

    async def ping_every(self, interval):
        while True:
            await asyncio.sleep(interval)
            await self.send({"type": "ping", "ts": int(time.time() * 1000)})

    async def handle(self, msg):
        t = msg.get("type")
        if t == "ping":
            await self.send({"type": "pong", "ts": msg.get("ts")})
        elif t == "pong":
            pass
        elif t == "offer":
            job = msg["job_id"]
            caller = msg.get("participant", {}).get("identity", "?")
            print(f"[{job}] offer: caller {caller} in room {msg.get('room', {}).get('name')!r}, "
                  f"metadata {msg.get('metadata', '')!r}", flush=True)
            if len(self.jobs) + len(self.offers) >= self.args.max_jobs:
                await self.send({"type": "decline", "job_id": job, "reason": "busy"})
            else:
                self.offers[job] = msg
                await self.send({"type": "accept", "job_id": job})
        elif t == "assignment":
            job = msg["job_id"]
            self.offers.pop(job, None)
            self.jobs[job] = asyncio.create_task(self.run_job(job, msg["media_url"],
                                                              msg["media_token"]))
        elif t == "job_ended":
            print(f"[{msg['job_id']}] job ended: {msg.get('reason')}", flush=True)
        elif t == "error":
            print(f"server error ({msg.get('code')}): {msg.get('message')}", flush=True)
            if msg.get("code") == "not_your_job":
                self.offers.clear()
        else:
            print(f"ignoring {t!r}", flush=True)

    async def run_job(self, job, media_url, media_token):
        rate = self.args.sample_rate
        try:
            async with await connect(media_url, compression=None, max_size=1 << 20,
                                     additional_headers={"Authorization": f"Bearer {media_token}"}
                                     ) as media:
                await media.send(json.dumps({"type": "ready"}))
                for frame in frames(tone(rate), rate):   # queued faster than real time
                    await media.send(frame)
                await media.send(json.dumps({"type": "mark", "name": "tone-done"}))
                echoing = 0
                async for m in media:
                    if isinstance(m, bytes):
                        await media.send(m)             # echo the caller
                        echoing += 1
                        if echoing == 1:
                            print(f"[{job}] echoing caller audio", flush=True)
                        continue
                    ev = json.loads(m)
                    print(f"[{job}] {ev.get('type')}: "
                          f"{ {k: v for k, v in ev.items() if k != 'type'} }", flush=True)
                    if ev.get("type") == "hangup":
                        break
        except InvalidStatus as e:
            print(f"[{job}] {refusal(e, media=True)}", flush=True)
        except (ConnectionClosed, OSError) as e:
            print(f"[{job}] media channel closed: {e}", flush=True)
        finally:
            self.jobs.pop(job, None)
            print(f"[{job}] done", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:7880", help="switchboard's HTTP address")
    p.add_argument("--api-key", default=os.environ.get("LIVEKIT_API_KEY", "devkey"))
    p.add_argument("--api-secret", default=os.environ.get("LIVEKIT_API_SECRET", "secret"))
    p.add_argument("--agent-name", default="",
                   help="the name dispatch rules use; empty = automatic dispatch")
    p.add_argument("--max-jobs", type=int, default=4)
    p.add_argument("--sample-rate", type=int, default=16000, choices=SAMPLE_RATES)
    p.add_argument("--identity", default="", help="the worker's JWT subject")
    p.add_argument("--register-only", action="store_true",
                   help="register, print the worker id and exit (a connectivity check)")
    args = p.parse_args()
    if not 1 <= args.max_jobs <= 1000:
        p.error("--max-jobs must be between 1 and 1000")
    try:
        asyncio.run(Worker(args).run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
