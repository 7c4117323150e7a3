"""What the CLI does with argv before Typer and with Typer's usage errors after it.

`hoist_globals` lets the root's -C and -v follow the subcommand (`ohnix lock -v`,
`ohnix shell rk3566 -C dir`), as cargo's global options do: they are moved before the
subcommand, except where the arguments are the user's (after `--`, and from the first
argument of the command a pass-through command such as `run` runs). `bad_value` words a
value that Typer's coercion refused (pydantic's "Input should be ...") as an ohnix sentence
naming the option and the values it takes.
"""

from __future__ import annotations

from typing import Any

# The root's options that may also follow a subcommand: (names, whether it takes a value).
GLOBALS = ((("-C", "--directory"), True), (("-v", "--verbose"), False))


def _global(token: str, next_token: str | None) -> list[str] | None:
    """The tokens of a global option starting at `token`, or None if it is not one."""
    for names, valued in GLOBALS:
        short, long = names
        if token in names:
            return [token] if not valued or next_token is None else [token, next_token]
        if valued and (
            token.startswith(long + "=") or (token.startswith(short) and len(token) > len(short))
        ):
            return [token]  # -CDIR, --directory=DIR
        if not valued and len(token) > 2 and token == "-" + short[1] * (len(token) - 1):
            return [token]  # -vv
    return None


def _option(command: Any, token: str) -> Any | None:
    """The option of `command` that `token` names (`--jobs`, `--jobs=4`, `-j4`), if any."""
    for param in command.params:
        if param.param_type_name != "option":
            continue
        for name in (*param.opts, *param.secondary_opts):
            if (
                token == name
                or token.startswith(name + "=")
                or (len(name) == 2 and token.startswith(name) and not name.startswith("--"))
            ):
                return param
    return None


def _takes_next(param: Any, token: str) -> bool:
    """Whether the option's value is the next token (not attached, not a flag)."""
    return not (param.is_flag or param.count) and "=" not in token and token in param.opts


def _passes_through(command: Any) -> bool:
    """A command whose arguments after its first one are a command line of the user's."""
    settings = getattr(command, "context_settings", None) or {}
    return bool(settings.get("ignore_unknown_options"))


def hoist_globals(root: Any, argv: list[str]) -> list[str]:
    """argv with the root's -C/-v that follow a subcommand moved in front of it."""
    front: list[str] = []
    rest: list[str] = []
    command = root
    positionals = 0
    i = 0
    while i < len(argv):
        token = argv[i]
        following = argv[i + 1] if i + 1 < len(argv) else None
        if token == "--":
            rest += argv[i:]
            break
        own = _option(command, token)
        found = None if command is root or own is not None else _global(token, following)
        if found is not None:
            front += found
            i += len(found)
            continue
        if token.startswith("-") and token != "-":
            rest.append(token)
            if own is not None and _takes_next(own, token) and following is not None:
                rest.append(following)
                i += 1
            i += 1
            continue
        subcommands = getattr(command, "commands", None)
        if subcommands is not None and positionals == 0:
            if token in subcommands:
                command = subcommands[token]
            elif "report" in subcommands and token not in ("--help", "-h"):
                command, positionals = subcommands["report"], 1  # `ohnix audit PRODUCT`
            else:
                rest += argv[i:]  # an unknown command: Typer says so
                break
            rest.append(token)
            i += 1
            continue
        if _passes_through(command) and positionals >= 1:
            rest += argv[i:]  # `ohnix run P make -v`: the rest is the user's command
            break
        positionals += 1
        rest.append(token)
        i += 1
    return front + rest


def json_command(root: Any, argv: list[str]) -> str | None:
    """The command path `argv` names, if that command was asked for --json (before any
    `--`, which starts a user's own command line), else None."""
    command, path, wants = root, list[str](), False
    args = iter(argv)
    for token in args:
        if token == "--":
            break
        if token.startswith("-"):
            wants = wants or token == "--json"
            own = _option(command, token)
            if own is not None and _takes_next(own, token):
                next(args, None)  # the option's value, never a command name
            continue
        sub = getattr(command, "commands", {}).get(token)
        if sub is not None:
            command, path = sub, [*path, token]
    return " ".join(path) if wants and path else None


def bad_value(exc: Any) -> str | None:
    """An ohnix sentence for a value Typer refused while coercing it, or None to keep
    Typer's own message (a missing file, a missing value)."""
    param = getattr(exc, "param", None)
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if param is None or not callable(errors):
        return None
    first = (errors() or [{}])[0]
    given = first.get("input")
    option = param.param_type_name == "option"
    name = max(param.opts, key=len) if option else param.human_readable_name
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None)
    if choices:
        values = [str(getattr(c, "value", c)) for c in choices]
        takes = values[0] if len(values) == 1 else "one of " + ", ".join(values)
        return f"{name} takes {takes}, not `{given}`."
    if getattr(descriptor, "annotation", None) is int:
        low, high = getattr(param, "min", None), getattr(param, "max", None)
        bounds = (
            f" from {low} to {high}" if low is not None and high is not None
            else f" of at least {low}" if low is not None
            else f" of at most {high}" if high is not None else ""
        )  # fmt: skip
        return f"{name} takes a whole number{bounds}, not `{given}`."
    return None
