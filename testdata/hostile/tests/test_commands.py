# Tests whose output, messages and ids try to issue GitHub workflow
# commands, both forms: "::name::" at the start of a line, and the legacy
# "##[name]" anywhere in one. A runner takes a bare carriage return for the
# end of a line too.
import sys

import pytest

COMMANDS = [
    "::set-output name=x::y",
    "::add-mask::hostile-mask",
    "##[group]x",
    "::stop-commands::x",
    "::x::",
    "  ##[warning title=indented]injected",
    "text ##[error]injected-in-the-middle",
    "carriage\r::error::injected-after-carriage-return",
]


def test_prints_workflow_commands(capfd):
    # Past pytest's capture, so the lines reach the log although the test
    # passes.
    with capfd.disabled():
        for line in COMMANDS:
            print(line)
            sys.stderr.write(line + "\n")
        sys.stdout.flush()
        sys.stderr.flush()


def test_fails_with_workflow_commands_in_its_message():
    print("\n".join(COMMANDS))
    assert False, "\n".join(COMMANDS)


# The ids go into the log with -v and into the log groups' titles.
@pytest.mark.parametrize("label", ["##[warning title=id]injected-id", "::warning::injected-id"])
def test_id_carries_a_command(label):
    assert label
