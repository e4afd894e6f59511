"""k8s-testrun: the faketime marker.

Loaded by the k8s-testrun shim in every test pod and in test discovery. It
registers @pytest.mark.faketime(spec), so that pytest neither warns about
the marker nor, under --strict-markers, refuses it. With
--k8s-testrun-list-markers (test discovery) it also prints, after the
collected tests, one line per test that has the marker:

    k8s-testrun-marker {"nodeid": "...", "faketime": "..."}

or, when the marker is not faketime("one string"), "error" instead of
"faketime". It also prints, for each test with markers other than pytest's
own, their names, from which k8s-testrun picks the test's lane (serial,
slow, flaky, disruptive, or the markers --lane maps to them):

    k8s-testrun-marks {"nodeid": "...", "markers": ["serial", ...]}

Last, it prints the versions of Python and pytest that ran the collection,
which name the base image's testsuite in a runtime matrix:

    k8s-testrun-versions {"python": "3.11.2", "pytest": "7.2.1"}

It registers the default lane markers, so --strict-markers accepts them. k8s-testrun sets FAKETIME for the test's pod; the marker itself
changes nothing in the test process. Under FAKETIME the plugin makes
time.sleep work around a libfaketime bug (see _sleep_under_faketime).
"""

import errno
import json
import os
import platform
import threading
import time

PREFIX = "k8s-testrun-marker "
MARKS_PREFIX = "k8s-testrun-marks "
VERSIONS_PREFIX = "k8s-testrun-versions "
# Markers of pytest's own, which never name a lane.
_BUILTIN = {"parametrize", "usefixtures", "filterwarnings", "skip", "skipif", "xfail", "faketime"}
# Bounds on what one test's line carries: names and their length.
_MAX_MARKS = 32
_MAX_MARK_LEN = 100
_LANES = {
    "serial": "run this test with no other test pod of the run alive, after the parallel tests (k8s-testrun lane)",
    "slow": "give this test the longer --slow-timeout and start it first (k8s-testrun lane)",
    "flaky": "retry this test up to --flaky-retries times, even without --retries (k8s-testrun lane)",
    "disruptive": "run this test alone, after every other test (k8s-testrun lane)",
}
_items = []
# Whether this session lists markers (and versions): set at collection.
session_listed = [False]


def _sleep_under_faketime(real_sleep):
    """Python 3.11+ sleeps with clock_nanosleep(CLOCK_MONOTONIC,
    TIMER_ABSTIME), which libfaketime 0.9.10 (Debian 12) fails with EINVAL
    when the monotonic clock is left real; a timed wait, which it handles,
    stands in for exactly that failure."""

    def sleep(secs):
        try:
            real_sleep(secs)
        except OSError as e:
            if e.errno != errno.EINVAL or secs < 0:
                raise
            threading.Event().wait(secs)

    sleep.__doc__ = real_sleep.__doc__
    return sleep


if os.environ.get("FAKETIME") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":
    time.sleep = _sleep_under_faketime(time.sleep)


def pytest_addoption(parser):
    parser.addoption(
        "--k8s-testrun-list-markers",
        action="store_true",
        default=False,
        help="print each collected test's faketime marker (k8s-testrun discovery)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "faketime(spec): run this test under libfaketime with FAKETIME=spec, "
        'e.g. "2031-06-01 12:00:00", "@2031-06-01 12:00:00" or "+3d" (k8s-testrun)',
    )
    for name, doc in _LANES.items():
        config.addinivalue_line("markers", "%s: %s" % (name, doc))


def pytest_collection_finish(session):
    if session.config.getoption("k8s_testrun_list_markers"):
        _items[:] = session.items
        session_listed[0] = True


def pytest_terminal_summary(terminalreporter):
    for item in _items:
        marker = item.get_closest_marker("faketime")
        if marker is None:
            continue
        entry = {"nodeid": item.nodeid}
        if len(marker.args) == 1 and isinstance(marker.args[0], str) and not marker.kwargs:
            entry["faketime"] = marker.args[0]
        else:
            shown = [repr(a) for a in marker.args] + ["%s=%r" % kv for kv in marker.kwargs.items()]
            entry["error"] = "faketime(%s) takes one string" % ", ".join(shown)[:200]
        terminalreporter.write_line(PREFIX + json.dumps(entry))
    for item in _items:
        names = []
        for m in item.iter_markers():
            if m.name in _BUILTIN or m.name in names or len(m.name) > _MAX_MARK_LEN:
                continue
            names.append(m.name)
            if len(names) == _MAX_MARKS:
                break
        if names:
            terminalreporter.write_line(MARKS_PREFIX + json.dumps({"nodeid": item.nodeid, "markers": names}))
    if session_listed[0]:
        import pytest

        versions = {"python": platform.python_version(), "pytest": pytest.__version__}
        terminalreporter.write_line(VERSIONS_PREFIX + json.dumps(versions))
