import sys

import pytest

from ohnix import proc
from ohnix.errors import CommandError, ToolNotFoundError


def test_run_captures() -> None:
    res = proc.run([sys.executable, "-c", "print('hi')"])
    assert res.stdout == "hi\n" and res.returncode == 0


def test_failure_names_command_and_stderr_tail() -> None:
    code = "import sys\nfor i in range(40): print('line', i, file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(CommandError) as err:
        proc.run([sys.executable, "-c", code], what="testing")
    msg = str(err.value)
    assert msg.startswith("testing: `")
    assert "exited with status 3" in msg
    assert "line 39" in msg and "line 10" not in msg  # only the tail
    assert err.value.returncode == 3


def test_env_overlay_and_timeout() -> None:
    res = proc.run(
        [sys.executable, "-c", "import os; print(os.environ['OHNIX_T'])"], env={"OHNIX_T": "x"}
    )
    assert res.stdout.strip() == "x"
    with pytest.raises(CommandError, match="timed out"):
        proc.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)


def test_missing_tool() -> None:
    with pytest.raises(ToolNotFoundError, match="no-such-tool-ohnix"):
        proc.run(["no-such-tool-ohnix"])


@pytest.mark.parametrize(("code", "expected"), [("0", 0), ("1", 1), ("42", 42)])
def test_call_exit_codes(code: str, expected: int) -> None:
    assert proc.call([sys.executable, "-c", f"raise SystemExit({code})"]) == expected


def test_call_reports_signal_death() -> None:
    assert (
        proc.call([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
        == 143
    )
