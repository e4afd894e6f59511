"""Tests that reach the services of the pod template (pod-template.yaml)."""

import pathlib
import urllib.request


def get(url):
    # No retry: the test starts only once the service is ready.
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read().decode()


def test_service_answers_on_localhost():
    status, _ = get("http://127.0.0.1:8000/")
    assert status == 200


def test_service_by_host_alias_sees_the_shared_workspace():
    pathlib.Path("/ws/hello.txt").write_text("from the test\n")
    status, body = get("http://web:8000/hello.txt")
    assert (status, body) == (200, "from the test\n")
