import time


def test_four_seconds():
    time.sleep(4)


def test_two_seconds():
    time.sleep(2)


def test_quick_one():
    pass


def test_quick_two():
    pass
