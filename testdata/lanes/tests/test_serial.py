import time

import pytest


@pytest.mark.serial
def test_serial_one():
    time.sleep(2)


@pytest.mark.serial
def test_serial_two():
    time.sleep(2)


@pytest.mark.db_migration
def test_migrates_schema():
    time.sleep(2)
