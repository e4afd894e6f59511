import time


def test_first():
    assert True


def test_sleeps_past_timeout():
    time.sleep(3600)


def test_third():
    assert True
