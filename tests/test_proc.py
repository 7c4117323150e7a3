import shlex
import sys
import time
from collections.abc import Iterator

import pytest

from ohnix import proc
from ohnix.errors import CommandError, OhnixError, ToolNotFoundError


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


def test_stream_pipes_input_through_while_it_runs() -> None:
    chunks = (bytes([i]) * 100_000 for i in range(50))  # 5 MB: more than any pipe holds
    with proc.stream(["cat"], input=chunks) as out:
        data = out.read()
    assert data == b"".join(bytes([i]) * 100_000 for i in range(50))


def test_stream_failure_raises_with_stderr() -> None:
    code = "import sys; sys.stdin.read(); print('bad input', file=sys.stderr); sys.exit(4)"
    argv = [sys.executable, "-c", code]
    with (
        pytest.raises(CommandError, match="bad input") as err,
        proc.stream(argv, input=[b"x"], what="streaming") as out,
    ):
        assert out.read() == b""
    assert err.value.returncode == 4
    assert str(err.value).startswith("streaming: `")


def test_stream_input_error_wins_over_the_childs() -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OhnixError("the source of the input failed")

    # nix-store --restore would fail on the truncated input; the cause is the input.
    code = "import sys; sys.stdin.read(); sys.exit(1)"
    with (
        pytest.raises(OhnixError, match="source of the input failed"),
        proc.stream([sys.executable, "-c", code], input=broken()) as out,
    ):
        out.read()


def test_stream_block_error_kills_the_child() -> None:
    endless = iter(lambda: b"y" * 65536, None)

    def give_up() -> None:
        with proc.stream(["cat"], input=endless) as out:
            out.read(10)
            raise RuntimeError("consumer gave up")

    with pytest.raises(RuntimeError, match="consumer gave up"):
        give_up()
    assert not proc._live  # nothing left running, or tracked


def test_stream_unread_output_is_discarded() -> None:
    with proc.stream([sys.executable, "-c", "print('x' * 1_000_000)"]) as out:
        assert out.read(1) == b"x"  # leaving early must not deadlock on a full pipe


def test_stream_error_stops_what_the_child_started() -> None:
    """The child's own children hold the pipes too: they are stopped with it, else the
    input thread could wait on a full pipe forever."""
    endless = iter(lambda: b"y" * 65536, None)
    script = "exec 3<&0; sleep 30 <&3 & exec cat > /dev/null"  # sleep holds stdin, unread

    def give_up() -> None:
        with proc.stream(["sh", "-c", script], input=endless):
            raise RuntimeError("consumer gave up")

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="consumer gave up"):
        give_up()
    assert time.monotonic() - start < 10


# A tool's stderr as Nix build logs bring it: NULs, colours, a progress line's \r, a title
# escape, bytes that are not UTF-8, next to UTF-8 text and tabs (issue 16, point 8).
RAW_STDERR = (
    b"building '/nix/store/x.drv'\x00\x00\r\n\x1b[31;1merror:\x1b[0m\tbuilder failed\r"
    b"\x1b]0;title\x07 \xe4\xb8\xad \xff\x7f\x9b\x08done"
)
SHOWN = "building '/nix/store/x.drv'\nerror:\tbuilder failed\n 中 \ufffd\ufffddone"


@pytest.mark.parametrize("streamed", [False, True])
def test_relayed_stderr_is_cleaned_and_the_command_is_pasteable(streamed: bool) -> None:
    code = f"import sys; sys.stderr.buffer.write({RAW_STDERR!r}); sys.exit(3)"
    argv = [sys.executable, "-c", code, "nix-command flakes", "it's"]

    def fail() -> None:
        if streamed:
            with proc.stream(argv, what="testing"):
                pass
        else:
            proc.run(argv, what="testing")

    with pytest.raises(CommandError) as err:
        fail()
    assert str(err.value) == (
        f"testing: `{sys.executable} -c {shlex.quote(code)} 'nix-command flakes' 'it'\"'\"'s'` "
        f"exited with status 3. Its last output was:\n{SHOWN}"
    )
    if not streamed:
        assert proc.run(argv, check=False).stderr == SHOWN  # what callers parse, too
