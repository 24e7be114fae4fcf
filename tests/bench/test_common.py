"""The benchmarks' shared helpers."""

from __future__ import annotations

import argparse

import pytest

from bench.common import median, percentile, positive_int, result_line


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("20", 20)])
def test_positive_int_takes_whole_numbers_from_one(text, value):
    assert positive_int(text) == value


@pytest.mark.parametrize("text", ["0", "-3"])
def test_positive_int_refuses_less_than_one(text):
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        positive_int(text)


def test_median_and_percentile_of_a_few_values():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 100) == 5.0


def test_result_line_is_one_line_of_key_values():
    line = result_line("demo", ratio=1.5, missing=None)
    assert line.startswith("RESULT demo ")
    assert "\n" not in line
