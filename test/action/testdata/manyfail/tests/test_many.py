# 60 failing tests and one passing, run in one pod (pod_per: file): more
# failures than the 50 annotations the Checks API takes in one request.
import pytest


@pytest.mark.parametrize("n", range(60))
def test_fails(n):
    assert n < 0, f"case {n} fails on purpose"


def test_passes():
    assert True
