"""The agreement statistics in emc_bench.metrics that calibrate and compare use."""

from __future__ import annotations

import pytest

from emc_bench import metrics


def test_spearman_uses_mid_ranks_for_ties():
    # ranks of x: 1, 2.5, 2.5, 4; of y: 1, 2, 3, 4 -> Pearson of the ranks
    assert metrics.spearman([1, 5, 5, 9], [10, 20, 30, 40]) == pytest.approx(0.9486832980505138)
    assert metrics.spearman([3, 2, 1], [10, 20, 30]) == pytest.approx(-1.0)
    assert metrics.spearman([1, 2, 3], [1, 4, 9]) == pytest.approx(1.0)  # monotone, not linear


@pytest.mark.parametrize("x, y", [([], []), ([1.0], [2.0]), ([5, 5, 5], [1, 2, 3])])
def test_correlations_are_none_when_undefined(x, y):
    assert metrics.spearman(x, y) is None and metrics.pearson(x, y) is None


def test_cohen_kappa():
    assert metrics.cohen_kappa([True, False, True, False], [True, False, True, False]) == 1.0
    assert metrics.cohen_kappa([True, True, False, False], [True, False, True, False]) == 0.0
    # 18 of 20 agree; 10 and 8 flagged: (0.9 - 0.5) / 0.5
    a = [True] * 10 + [False] * 10
    b = [True] * 8 + [False] * 12
    assert metrics.cohen_kappa(a, b) == pytest.approx(0.8)
    assert metrics.cohen_kappa([True] * 3, [True] * 3) is None  # one flag for everything: chance explains all
    with pytest.raises(ValueError):
        metrics.cohen_kappa([True], [True, False])
