"""The same viewer models as Locust users, so Locust's master/worker mode spreads the load.

    locust -f loadtest/locustfile.py --host http://edge:8080 \
        --class-picker  # or: SetTopBox / Phone user classes, weights 8:2 by default
    CLASSCAST_TARGET=/live/grade-5/master.m3u8  (path on --host, or a full URL)

Requests appear in Locust's statistics by kind (master, playlist, segment); each finished
session adds QoE entries under the `qoe` request type (startup, rebuffer), so Locust's own
percentiles and failure counts carry the viewers' experience. Locust is an optional extra
(`pip install classcast[locust]`); the asyncio runner never imports this module.
"""

from __future__ import annotations

import os
import time

import gevent
from locust import User, between, events, task
from locust.env import Environment

from loadtest.bandwidth import make_profile, throttle_delay
from loadtest.models.actions import Fetch, Lane, Response, Stop, Wait
from loadtest.models.phone import PhoneSession
from loadtest.models.session import SessionSettings, ViewerSession
from loadtest.models.stb import make_set_top_box

TARGET = os.environ.get("CLASSCAST_TARGET", "/live/grade-5/master.m3u8")
STB_RENDITION = os.environ.get("CLASSCAST_STB_RENDITION", "highest")
PHONE_BANDWIDTH = os.environ.get("CLASSCAST_PHONE_BANDWIDTH", "walk=4000,500,8000")
SESSION_S = float(os.environ.get("CLASSCAST_SESSION_S", "600"))
CHUNK = 64 * 1024


class ViewerUser(User):
    abstract = True
    wait_time = between(0.5, 1.0)  # pause between sessions

    def make_session(self, url: str, now: float) -> ViewerSession:
        raise NotImplementedError

    @task
    def watch(self) -> None:
        url = TARGET if TARGET.startswith("http") else (self.host or "") + TARGET
        session = self.make_session(url, time.monotonic())
        lanes = [gevent.spawn(self._lane, session, lane) for lane in ("playlist", "segment")]
        gevent.joinall(lanes, timeout=SESSION_S)
        gevent.killall(lanes)
        report = session.finish(time.monotonic())
        fire = self.environment.events.request.fire
        if report.startup_time is not None:
            fire(request_type="qoe", name="startup", response_time=report.startup_time * 1e3,
                 response_length=0, exception=None, context={})  # fmt: skip
        failure = Exception("start failed") if report.start_failed else None
        fire(request_type="qoe", name="rebuffer", response_time=report.rebuffer_s * 1e3,
             response_length=report.rebuffer_count, exception=failure, context={})  # fmt: skip

    def _lane(self, session: ViewerSession, lane: Lane) -> None:
        while True:
            now = time.monotonic()
            action = session.next_action(lane, now)
            if isinstance(action, Stop):
                return
            if isinstance(action, Wait):
                # gevent has no cross-greenlet poke here; poll the model at a short interval.
                until = now + 0.25 if action.until is None else action.until
                gevent.sleep(max(0.0, min(until - now, 0.25)))
                continue
            session.on_response(action, self._fetch(action, session), time.monotonic())

    def _fetch(self, fetch: Fetch, session: ViewerSession) -> Response:
        started = time.monotonic()
        status, size, body, error = 0, 0, None, None
        try:
            with self.client_get(fetch.url) as answer:
                status = answer.status_code
                if fetch.kind == "segment":
                    for chunk in answer.iter_content(CHUNK):
                        size += len(chunk)
                        rate = session.read_rate(time.monotonic())
                        if rate is not None:
                            gevent.sleep(throttle_delay(size, time.monotonic() - started, rate))
                else:
                    body = answer.text
                    size = len(answer.content)
        except Exception as failure:  # report every failure to Locust, keep the viewer going
            error = failure
        finished = time.monotonic()
        if error is None and status >= 400:
            error = Exception(f"HTTP {status}")
        self.environment.events.request.fire(
            request_type="GET", name=fetch.kind, response_time=(finished - started) * 1e3,
            response_length=size, exception=error, context={},
        )  # fmt: skip
        return Response(status, started, finished, size, body)

    def client_get(self, url: str):  # type: ignore[no-untyped-def]
        import requests  # locust depends on it

        if not hasattr(self, "_http"):
            self._http = requests.Session()
        return self._http.get(url, stream=True, timeout=10)


class SetTopBox(ViewerUser):
    weight = 8

    def make_session(self, url: str, now: float) -> ViewerSession:
        return make_set_top_box(url, now, STB_RENDITION, SessionSettings())


class Phone(ViewerUser):
    weight = 2

    def make_session(self, url: str, now: float) -> ViewerSession:
        seed = id(self) % 1_000_003
        return PhoneSession(url, now, make_profile(PHONE_BANDWIDTH, seed), SessionSettings())


@events.init.add_listener
def _announce(environment: Environment, **_: object) -> None:
    print(f"classcast viewers -> {TARGET}")
