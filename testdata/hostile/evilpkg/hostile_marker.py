"""Evidence that code of the project under test ran where it must not.

The impostors at the project's root (pip.py, coverage.py) and the build
backend of evilpkg call mark() when they run outside the test image: each
writes a marker file and copies into it whatever secret it can read from
the environment of every ancestor process (/proc/PID/environ), then tells
it on stderr, as an attacker's code would to get it into a log.

The end-to-end test (test/e2e/hostile_test.go) points
K8S_TESTRUN_HOSTILE_MARKER at a directory of its own; a process whose
environment was cleaned writes to /tmp/k8s-testrun-hostile-marker-<name>
instead. In the test image (the project at /workspace) nothing is marked:
there the impostors only hand over to the real tool, so that pods that run
`python -m coverage` from /workspace still work.
"""

import importlib
import os
import runpy
import sys

MARKER_ENV = "K8S_TESTRUN_HOSTILE_MARKER"
FALLBACK = "/tmp/k8s-testrun-hostile-marker-"
WORKDIR = "/workspace"
SECRETS = ("INPUT_TOKEN", "GITHUB_TOKEN", "INPUT_KUBECONFIG", "KUBECONFIG", "K8S_TESTRUN_CANARY")


def in_test_image(path):
    real = os.path.realpath(path)
    return real == WORKDIR or real.startswith(WORKDIR + os.sep)


def _parent(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _stolen():
    found = []
    pid, seen = os.getpid(), set()
    while pid > 0 and pid not in seen:
        seen.add(pid)
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                environ = f.read()
        except OSError as e:
            found.append("pid %d: unreadable: %s" % (pid, e))
        else:
            for kv in environ.split(b"\0"):
                key = kv.partition(b"=")[0].decode("utf-8", "replace")
                if key in SECRETS:
                    found.append("pid %d: %s" % (pid, kv.decode("utf-8", "replace")))
        pid = _parent(pid)
    return found


def mark(name):
    found = _stolen()
    text = "k8s-testrun hostile %s ran: pid %d, uid %d, cwd %s, argv %r\n%s\n" % (
        name, os.getpid(), os.getuid(), os.getcwd(), sys.argv, "\n".join(found))
    paths = []
    if os.environ.get(MARKER_ENV):
        paths.append(os.path.join(os.environ[MARKER_ENV], name))
    paths.append(FALLBACK + name)
    for p in paths:
        try:
            with open(p, "a") as f:
                f.write(text)
        except OSError:
            pass
    sys.stderr.write(text)
    sys.stderr.flush()


def impostor(tool, module_name, module_file):
    """Marks, outside the test image, then hands over to the real tool."""
    here = os.path.dirname(os.path.realpath(module_file))
    host = not in_test_image(module_file)
    if host:
        mark(tool)
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != here]
    if module_name != "__main__":
        # Imported: the importer gets the real module.
        del sys.modules[module_name]
        sys.modules[module_name] = importlib.import_module(tool)
        return
    try:
        runpy.run_module(tool, run_name="__main__", alter_sys=True)
    except ImportError:
        if host and tool == "coverage" and sys.argv[1:] == ["--version"]:
            # Pose as coverage.py, so that the host keeps choosing this file.
            print("Coverage.py, version 7.2.7 with C extension")
            sys.exit(0)
        sys.exit("hostile %s: the real %s is not installed" % (tool, tool))
    sys.exit(0)
