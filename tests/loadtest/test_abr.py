import pytest

from loadtest.abr import DEFAULT_ESTIMATE_BPS, BandwidthEstimator, Ewma, choose_level
from loadtest.models.actions import Response
from loadtest.models.phone import AdaptiveBitrate
from loadtest.playlist import Variant

LADDER = [300_000, 800_000, 2_000_000, 5_000_000]
VARIANTS = tuple(Variant(f"l{i}", f"http://x/l{i}/index.m3u8", b) for i, b in enumerate(LADDER))


def test_ewma_of_a_constant_is_that_constant() -> None:
    average = Ewma(3.0)
    for _ in range(5):
        average.sample(0.5, 1_000_000.0)
    assert average.value() == pytest.approx(1_000_000.0)


def test_estimate_defaults_until_a_sample_arrives() -> None:
    estimator = BandwidthEstimator()
    assert estimator.estimate() == DEFAULT_ESTIMATE_BPS
    estimator.sample(1.0, 250_000)  # 2 Mbit/s
    assert estimator.estimate() == pytest.approx(2_000_000)


def test_estimate_follows_a_drop_fast_and_a_rise_slowly() -> None:
    estimator = BandwidthEstimator()
    for _ in range(10):
        estimator.sample(1.0, 1_000_000)  # 8 Mbit/s
    estimator.sample(2.0, 250_000)  # a 1 Mbit/s sample
    dropped = estimator.estimate()
    assert dropped < 6_000_000
    estimator.sample(0.1, 1_000_000)  # one 80 Mbit/s burst barely moves the slow average
    assert estimator.estimate() < 2 * dropped


@pytest.mark.parametrize(
    ("current", "estimate", "expected"),
    [
        (0, 500_000, 0),
        (0, 1_000_000, 0),  # 800k > 0.7 x 1M: not enough headroom to step up
        (0, 1_200_000, 1),  # 800k <= 0.7 x 1.2M
        (2, 2_100_000, 1),  # staying needs 0.95: 2M > 1.995M
        (2, 2_200_000, 2),
        (3, 5_000_000, 2),  # 5M > 0.95 x 5M: step down
        (3, 6_000_000, 3),
        (1, 100_000, 0),  # nothing fits: the lowest
    ],
)
def test_switch_rule(current: int, estimate: float, expected: int) -> None:
    assert choose_level(LADDER, current, estimate) == expected


# Scripted segment downloads of 4 s segments: (bytes, seconds) -> the level chosen next.
SCRIPTED = [
    (150_000, 1.0, 1),  # 1.2 Mbit/s: 800k fits under 0.7 x 1.2M
    (400_000, 0.4, 2),  # an 8 Mbit/s sample lifts the estimate to ~3.2M
    (1_000_000, 0.8, 2),  # 10 Mbit/s: ~5.8M, but 5M needs 7.1M of estimate to step up
    (1_000_000, 8.0, 1),  # 1 Mbit/s for 8 s: the fast average collapses to ~1.4M
    (1_000_000, 1.0, 1),  # 8 Mbit/s again: ~2.5M, 2M would need 2.9M to step back up
]


def test_abr_switching_on_scripted_bandwidth() -> None:
    policy = AdaptiveBitrate()
    level = policy.initial_level(VARIANTS)
    assert level == 0  # 500 kbit/s default estimate
    for size, seconds, expected in SCRIPTED:
        response = Response(200, 0.0, seconds, size)
        level = policy.after_segment(VARIANTS, level, response, buffer_s=8.0)
        assert level == expected, policy.estimator
