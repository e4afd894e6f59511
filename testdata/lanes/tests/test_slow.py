import time

import pytest


# Longer than the run's --timeout, shorter than its --slow-timeout.
@pytest.mark.slow
def test_slow():
    time.sleep(40)
