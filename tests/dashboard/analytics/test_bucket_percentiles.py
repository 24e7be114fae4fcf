"""Percentiles of bucketed samples (``analytics.rollups``) against the exact ones."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.analytics import rollups
from dashboard.analytics.durations import percentile
from dashboard.models import CaseDay

durations = st.floats(min_value=1e-6, max_value=3600.0, allow_nan=False)
samples = st.lists(durations, min_size=1, max_size=400)


def as_buckets(values: list[float]) -> str:
    return "".join(CaseDay.bucket_char(value) for value in values)


def bucketed(values: list[float]) -> list[float]:
    return [CaseDay.bucket_value(CaseDay.bucket(value)) for value in values]


@settings(max_examples=200, deadline=None)
@given(values=samples, pcts=st.lists(st.sampled_from([0, 5, 50, 90, 95, 99, 100]), min_size=1))
def test_percentiles_are_those_of_the_bucket_values(values, pcts):
    expected = [percentile(bucketed(values), pct) for pct in pcts]
    assert rollups.percentiles_of_groups([as_buckets(values)], pcts)[0] == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(values=samples)
def test_a_median_is_within_a_quarter_percent_of_the_exact_one(values):
    exact = percentile(values, 50)
    [median] = rollups.medians([as_buckets(values)])
    assert median == pytest.approx(exact, rel=0.0025)


@settings(max_examples=100, deadline=None)
@given(days=st.lists(st.lists(durations, min_size=1, max_size=40), max_size=8))
def test_daily_medians_equal_each_days_own_median(days):
    buckets = [as_buckets(day) for day in days]
    assert rollups.medians(buckets) == [percentile(bucketed_of(day), 50) for day in buckets]


def bucketed_of(buckets: str) -> list[float]:
    return [CaseDay.value_of(char) for char in buckets]


@settings(max_examples=100, deadline=None)
@given(
    groups=st.lists(samples, max_size=12),
    pcts=st.lists(st.sampled_from([0, 5, 50, 90, 95, 99, 100]), min_size=1),
)
def test_percentiles_of_many_groups_are_each_groups_own(groups, pcts):
    """Exactly, float for float: the pages rank and compare them."""
    buckets = [as_buckets(values) for values in groups]
    assert rollups.percentiles_of_groups(buckets, pcts) == [
        [percentile(bucketed_of(group), pct) for pct in pcts] for group in buckets
    ]


@pytest.mark.parametrize("groups", [[""], ["一", ""]])
def test_no_samples_have_no_percentile(groups):
    with pytest.raises(ValueError, match="no values"):
        rollups.percentiles_of_groups(groups, [50])


def test_no_groups_have_no_percentiles():
    assert rollups.percentiles_of_groups([], [50]) == []


@pytest.mark.parametrize("count", [1, 2, 127, 1000, 1001])
def test_percentiles_of_many_distinct_shuffled_samples(count):
    # Distinct buckets in many shuffled orders: a rank left out of place would show.
    values = [0.001 * 1.01**index for index in range(count)]
    pcts = [50, 95, 99]
    expected = [percentile(bucketed(values), pct) for pct in pcts]
    for seed in range(20):
        random.Random(seed).shuffle(values)
        assert rollups.percentiles_of_groups([as_buckets(values)], pcts)[0] == pytest.approx(
            expected
        )


@pytest.mark.parametrize("padding_limit", [0, 1_000_000], ids=["keyed sort", "padded rows"])
def test_both_ways_of_sorting_the_groups_give_each_groups_own_percentiles(
    monkeypatch, padding_limit
):
    """Padded rows serve groups of like lengths, one keyed sort a lopsided list."""
    monkeypatch.setattr(rollups, "PADDING_LIMIT", padding_limit)
    rng = random.Random(7)
    groups = [[rng.uniform(0, 100) for _ in range(rng.randint(1, 300))] for _ in range(40)]
    groups.append([rng.uniform(0, 1) for _ in range(5000)])
    buckets = [as_buckets(values) for values in groups]
    pcts = [0, 50, 95, 100]
    assert rollups.percentiles_of_groups(buckets, pcts) == [
        [percentile(bucketed_of(group), pct) for pct in pcts] for group in buckets
    ]
