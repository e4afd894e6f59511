"""k8s-testrun: stream each test's JUnit entry to the results volume.

Loaded by the k8s-testrun shim in pods that run several tests. pytest's
--junitxml writes its file at the end of the session, which a pod killed
mid-session never reaches; this plugin writes each test's own <testcase>
element, as pytest's junitxml plugin builds it, as soon as the test's
teardown is reported, and names the test that is running, so that the
runner knows which test a dying pod took with it.
"""

import json
import os
import time
import xml.etree.ElementTree as ET

import pytest

_DIR = os.environ.get("K8S_TESTRUN_STREAM_DIR", "")
# A test's texts (traceback, captured output) and messages are cut to these
# sizes, so that one test cannot fill the pod's results.
_TEXT_LIMIT = 128 * 1024
_MESSAGE_LIMIT = 16 * 1024
_state = {"config": None, "seq": 0, "done": 0, "start": {}}


def _clock():
    """The real time. Under libfaketime (FAKETIME) with a real monotonic
    clock, time.time() is the fake one: the shim's anchor, the real time
    and the monotonic clock read at one moment, gives the real one back."""
    anchor = os.environ.get("K8S_TESTRUN_CLOCK", "").split()
    if os.environ.get("FAKETIME") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1" and len(anchor) == 2:
        try:
            real, mono = float(anchor[0]), float(anchor[1])
        except ValueError:
            return time.time
        return lambda: real + (time.monotonic() - mono)
    return time.time


_now = _clock()


def _write(name, data):
    tmp = os.path.join(_DIR, "." + name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
    os.replace(tmp, os.path.join(_DIR, name))


def _cut(text, limit):
    if text is None or len(text) <= limit:
        return text
    dropped = len(text) - limit
    return text[: limit // 2] + "\n[k8s-testrun: %d characters cut]\n" % dropped + text[-(limit // 2):]


def _bounded(element):
    for child in element.iter():
        child.text = _cut(child.text, _TEXT_LIMIT)
        if "message" in child.attrib:
            child.set("message", _cut(child.get("message"), _MESSAGE_LIMIT))
    return element


def _logxml():
    config = _state["config"]
    try:
        from _pytest.junitxml import xml_key
    except ImportError:
        return None
    stash = getattr(config, "stash", None)
    if stash is not None:
        return stash.get(xml_key, None)
    return config._store.get(xml_key, None)


def pytest_configure(config):
    _state["config"] = config
    if _DIR:
        os.makedirs(_DIR, exist_ok=True)


def pytest_runtest_logstart(nodeid, location):
    if not _DIR:
        return
    _state["start"][nodeid] = _now()
    _write("current", json.dumps({"nodeid": nodeid, "start": _state["start"][nodeid]}))


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    if not _DIR or report.when != "teardown":
        return
    stop = _now()
    xml = _logxml()
    elements = []
    if xml is not None:
        # junitxml finalizes a test's reporter at its teardown report; a
        # finalized reporter keeps nothing but its element.
        ordered = xml.node_reporters_ordered
        i = _state["done"]
        while i < len(ordered) and set(vars(ordered[i])) == {"to_xml"}:
            elements.append(ET.tostring(_bounded(ordered[i].to_xml()), encoding="unicode"))
            i += 1
        _state["done"] = i
    _state["seq"] += 1
    entry = {
        "nodeid": report.nodeid,
        "start": _state["start"].pop(report.nodeid, stop),
        "stop": stop,
        "testcases": elements,
    }
    _write("%06d.json" % _state["seq"], json.dumps(entry))
    _write("current", "")
