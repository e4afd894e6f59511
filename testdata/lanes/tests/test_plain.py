import time

import pytest


@pytest.mark.parametrize("n", range(6))
def test_plain(n):
    time.sleep(3)
