import time

import pytest


@pytest.mark.parametrize("n", range(6))
def test_sleeps(n):
    time.sleep(8)
