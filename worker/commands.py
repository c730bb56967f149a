"""One dispatcher for `python -m <package> <command>`: each command is a module with `main(argv)`, imported only when used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping


def usage(prog: str, commands: Mapping[str, tuple[str, str]]) -> str:
    lines = [f"usage: python -m {prog} <command> [args]", "", "commands:"]
    lines += [f"  {name:<15} {help_}" for name, (_, help_) in commands.items()]
    return "\n".join(lines)


def dispatch(prog: str, commands: Mapping[str, tuple[str, str]], argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage(prog, commands))
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in commands:
        print(f"unknown command {command!r}\n\n{usage(prog, commands)}", file=sys.stderr)
        return 2
    module = importlib.import_module(commands[command][0])
    return int(module.main(rest) or 0)
