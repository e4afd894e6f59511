import os
import time


def started():
    # pytest captures the test's stdout and stderr; PID 1 of the test
    # container is the k8s-testrun shim, whose stdout is the container's
    # log, so the e2e test can see that the test has started.
    try:
        fd = os.open("/proc/1/fd/1", os.O_WRONLY)
    except OSError:
        return
    try:
        os.write(fd, b"k8s-testrun-e2e: test started\n")
    finally:
        os.close(fd)


def test_survives_disruption():
    started()
    time.sleep(6)
    marker = os.path.join(os.environ.get("K8S_TESTRUN_ARTIFACTS", "/tmp"), "marker")
    with open(marker, "w") as f:
        f.write("finished\n")


def test_quick():
    assert True
