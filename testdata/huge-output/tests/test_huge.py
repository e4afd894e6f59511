import sys

SIZE = 64 << 20


def test_fails_with_a_64_mib_message():
    assert False, "x" * SIZE


def test_prints_64_mib_and_fails():
    sys.stdout.write("y" * SIZE)
    sys.stderr.write("z" * SIZE)
    assert False, "after 128 MiB of output"
