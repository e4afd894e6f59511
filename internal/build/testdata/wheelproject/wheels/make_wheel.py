"""Writes tinydep-0.1.0-py3-none-any.whl, a pure-Python wheel for tests.

The wheel is committed; rerun this script only to change it. It needs no
network and no build backend, and its output is byte-for-byte reproducible.
"""

import base64
import hashlib
import os
import zipfile

NAME, VERSION = "tinydep", "0.1.0"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"

FILES = {
    f"{NAME}/__init__.py": 'VALUE = "tinydep 0.1.0"\n',
    f"{DIST_INFO}/METADATA": (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {VERSION}\n"
        "Summary: A pure-Python package for k8s-testrun's tests\n"
    ),
    f"{DIST_INFO}/WHEEL": (
        "Wheel-Version: 1.0\n"
        "Generator: make_wheel.py\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    ),
}


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"{path},sha256={digest.decode()},{len(data)}\n"


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       f"{NAME}-{VERSION}-py3-none-any.whl")
    record = "".join(record_line(p, d.encode()) for p, d in FILES.items())
    record += f"{DIST_INFO}/RECORD,,\n"
    entries = dict(FILES, **{f"{DIST_INFO}/RECORD": record})
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)


if __name__ == "__main__":
    main()
