"""Per-client limits: token buckets driven by a fake clock, and the connection counter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classcast.clock import FakeClock
from edge.http.connlimit import ConnectionCounter
from edge.http.ratelimit import ClientRates, TokenBucket, retry_after


def test_a_burst_passes_then_the_rate_holds_and_the_wait_is_told() -> None:
    clock = FakeClock(1000.0)
    rates = ClientRates(rate=2.0, burst=3, clock=clock)
    assert [rates.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rates.take("a") == pytest.approx(0.5)
    assert rates.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert rates.take("a") == 0.0
    assert rates.take("a") == pytest.approx(0.5)
    clock.now += 60  # refills to the burst, no further
    assert [rates.take("a") for _ in range(4)][-1] > 0


def test_a_clock_going_backwards_gives_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, tokens=0.0, updated=50.0)
    assert bucket.take(40.0) == pytest.approx(1.0)
    assert bucket.take(50.5) == pytest.approx(0.5)


def test_tracked_clients_are_bounded_and_forgetting_one_only_refills_it() -> None:
    clock = FakeClock(1000.0)
    rates = ClientRates(rate=1.0, burst=1, clock=clock, max_clients=2)
    for client in ("a", "b", "c"):
        rates.take(client)
    assert len(rates) == 2
    assert rates.take("a") == 0.0  # forgotten: a full bucket again
    assert rates.take("c") > 0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 5), (-1.0, 5), (1.0, 0.5)])
def test_nonsense_settings_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        ClientRates(rate, burst, FakeClock(1000.0))


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (30, "30")])
def test_retry_after_is_whole_seconds_and_never_zero(wait: float, header: str) -> None:
    assert retry_after(wait) == header


@given(
    rate=st.floats(0.1, 1000),
    burst=st.integers(1, 100),
    steps=st.lists(st.floats(0, 5), max_size=50),
)
def test_property_no_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[float]
) -> None:
    clock = FakeClock(1000.0)
    rates = ClientRates(rate, burst, clock)
    start, allowed = clock.now, 0
    for step in steps:
        clock.now += step
        allowed += sum(rates.take("x") == 0.0 for _ in range(3))
    assert allowed <= burst + rate * (clock.now - start) + 1e-6


def test_connections_over_the_limit_are_refused_and_closing_frees_a_place() -> None:
    counter = ConnectionCounter(limit=2)
    assert counter.opened("a") and counter.opened("a")
    assert not counter.opened("a")
    assert counter.opened("b")
    assert counter.count("a") == 2
    counter.closed("a")
    assert counter.opened("a")
    for _ in range(2):
        counter.closed("a")
    counter.closed("b")
    assert len(counter) == 0  # idle clients are forgotten


def test_a_zero_limit_counts_but_never_refuses() -> None:
    counter = ConnectionCounter(limit=0)
    assert all(counter.opened("a") for _ in range(10_000))
    assert counter.count("a") == 10_000
    with pytest.raises(ValueError):
        ConnectionCounter(-1)
