"""Every command line in the README's shell blocks names a real command and real options.

The commands are never run (they need servers): each line is parsed as a shell would split
it, then handed to the parsers themselves, in-process, which is what the program does with
it first: click's for ``arkor-temporal``, and the argparse parsers of the worker, the
emulator and ``python -m bench``. Placeholders in ``[...]`` are optional syntax, ``a|b``
inside them alternatives: each alternative is checked, and the line without its optional
parts too. A failure names the README line; a new command group must appear in the README.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from unittest import mock

import click
import pytest

import arkor_temporal.cli.main  # noqa: F401  (it attaches every command group to cli)
from arkor_temporal.cli.app import cli

README = Path(__file__).resolve().parents[2] / "README.md"
SHELL_FENCES = {"```bash", "```sh", "```shell"}
# Outside [...] these end a command; `&` is no punctuation to shlex here, so `2>&1` stays one
# word, and `&&` / `&` must stand apart (as the README writes them).
SEPARATORS = {";", ";;", "|", "||", "&", "&&"}
SHELL_PREFIXES = {"do", "then", "else", "time", "exec"}  # words a command may follow
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")  # FOO=bar before a command: its env
REDIRECT = re.compile(r"\d*(?:&>|>>?|<)(?P<target>&\d+|.*)")  # an empty target: the next word
ANGLE_PLACEHOLDER = re.compile(r"<[^<>\s]+>")  # `<id>` is a value, not a redirection
# Values a type cannot convert because they stand for one: $VAR, ..., <id>, ID.
PLACEHOLDER_VALUE = re.compile(r".*(?:\$|\.\.\.|…).*|<[^<>]+>|[A-Z][A-Z0-9_-]*")
SUBSTITUTION = "$(...)"  # stands for a command substitution's output: a value
PYTHON = re.compile(r"python(?:3(?:\.\d+)?)?")

Checker = Callable[[Sequence[str]], list[str]]  # a program's arguments -> what is wrong


# --- The README's shell lines, split into command words ------------------------------------


def without_comment(line: str) -> str:
    """``line`` up to a shell comment: ``#`` starting a word, outside quotes (shlex would also
    cut ``http://host/#/x`` at its ``#``)."""
    quote, escaped, previous = "", False, " "
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (previous.isspace() or previous in ";|&"):
            return line[:index]
        previous = char
    return line


def shell_lines(readme: str) -> Iterator[tuple[int, str]]:
    """Each logical line of the shell blocks (``\\`` continuations joined), comments removed,
    with the README line number it starts on."""
    in_block, start, pending = False, 0, ""
    for number, raw in enumerate(readme.splitlines(), start=1):
        fence = raw.strip()
        if not in_block:
            in_block = fence in SHELL_FENCES
            continue
        if fence.startswith("```"):
            if pending:  # a block that ends on a `\`
                yield start, pending
            in_block, pending = False, ""
            continue
        code = without_comment(raw).rstrip()
        start = start if pending else number
        if code.endswith("\\"):
            pending += code[:-1] + " "
            continue
        yield start, pending + code
        pending = ""
    if in_block and pending:  # an unclosed block that ends on a `\`
        yield start, pending


def closing_paren(line: str, start: int) -> int:
    """The index of the ``)`` that closes a ``$(`` whose inside starts at ``start``."""
    depth, quote = 1, ""
    for index in range(start, len(line)):
        char = line[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return index
    return len(line)  # unclosed: the rest of the line


def split_substitutions(line: str) -> tuple[str, list[str]]:
    """``line`` with each outermost ``$(...)`` as one placeholder word, and the commands
    inside them, which are checked as commands of their own."""
    kept, insides = "", []
    index, quote = 0, ""
    while index < len(line):
        if quote != "'" and line.startswith("$(", index):
            end = closing_paren(line, index + 2)
            insides.append(line[index + 2 : end])
            kept, index = kept + SUBSTITUTION, end + 1
            continue
        char = line[index]
        if char in "'\"" and quote in ("", char):
            quote = "" if quote else char
        kept, index = kept + char, index + 1
    return kept, insides


def brackets(token: str) -> tuple[int, int]:
    """How many optional groups ``token`` opens (leading ``[``) and closes (trailing ``]``)."""
    return len(token) - len(token.lstrip("[")), len(token) - len(token.rstrip("]"))


def split_commands(line: str) -> list[list[str]]:
    """The words of each command on ``line``; ``|`` between ``[`` and ``]`` is no pipe."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";|")
    lexer.whitespace_split, lexer.commenters = True, ""
    commands: list[list[str]] = [[]]
    depth = 0
    for token in lexer:
        if token in SEPARATORS and not (depth and token == "|"):
            commands.append([])
            continue
        opens, closes = brackets(token)
        depth = max(depth + opens - closes, 0)
        commands[-1].append(token)
    return [command for command in commands if command]


def command_words(tokens: Sequence[str]) -> list[str]:
    """``tokens`` without redirections, and without the env assignments and shell keywords
    in front of the command."""
    kept: list[str] = []
    skip_next = False
    for token in tokens:
        match = None if ANGLE_PLACEHOLDER.fullmatch(token) else REDIRECT.fullmatch(token)
        if skip_next or match:
            skip_next = match is not None and not match["target"]
            continue
        kept.append(token)
    while kept and (ASSIGNMENT.match(kept[0]) or kept[0] in SHELL_PREFIXES):
        kept.pop(0)
    return kept


@dataclass(frozen=True)
class Word:
    """A word as the README writes it: its alternatives, and whether it is optional."""

    choices: tuple[str, ...]
    optional: bool


def words_of(tokens: Sequence[str]) -> list[Word]:
    """Group ``[--overlap skip|buffer-one]`` into optional words with alternatives."""
    words: list[Word] = []
    depth, alternative = 0, False
    for token in tokens:
        if token == "|" and depth:
            alternative = True
            continue
        opens, closes = brackets(token)
        depth += opens
        text = token[opens : len(token) - closes]
        if text and text not in ("...", "…"):  # `...`: "and more of the same"
            if alternative and words:
                words[-1] = Word((*words[-1].choices, text), words[-1].optional)
            else:
                words.append(Word((text,), depth > 0))
        alternative = False
        depth = max(depth - closes, 0)
    return words


def variants(words: Sequence[Word]) -> list[list[str]]:
    """The argument lists ``words`` stand for: without the optional words, then with them,
    once per alternative (the k-th of each word, or its last)."""
    required = [word.choices[0] for word in words if not word.optional]
    widest = max((len(word.choices) for word in words), default=1)
    every = [[w.choices[min(k, len(w.choices) - 1)] for w in words] for k in range(widest)]
    return [required, *(argv for argv in every if argv != required)]


# --- argparse programs: the worker, the emulator, the benchmarks --------------------------


class _Parsing(Exception):
    """Raised in place of ``parse_args``, so a program's ``main`` hands over its parser
    before it does anything else."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__()
        self.parser = parser


@functools.cache
def argparse_parser(module: str) -> argparse.ArgumentParser:
    """The parser ``module.main(argv)`` builds (the programs build them inside ``main``)."""
    main: Callable[[list[str]], object] = importlib.import_module(module).main

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> NoReturn:
        raise _Parsing(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", capture):
        try:
            main([])
        except _Parsing as parsing:
            return parsing.parser
    raise AssertionError(f"{module}.main() never parsed its arguments")


def argparse_problems(module: str, args: Sequence[str]) -> list[str]:
    parser = argparse_parser(module)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parser.parse_args(list(args))
        except SystemExit as exit_:
            if exit_.code not in (0, None):  # 0: --help
                # Its last line, the error, under a name of ours (prog is pytest's argv[0]).
                error = err.getvalue().strip().splitlines()[-1].removeprefix(f"{parser.prog}: ")
                return [f"python -m {module.removesuffix('.__main__')}: {error}"]
    return []


def argparse_program(module: str) -> Checker:
    return functools.partial(argparse_problems, module)


WORKER = argparse_program("arkor_temporal.worker")
EMULATOR = argparse_program("arkor_temporal.emulator.__main__")
# click commands that hand their arguments on to another program's parser.
PASS_THROUGH: dict[str, Checker] = {
    "arkor-temporal worker": WORKER,
    "arkor-temporal emulator": EMULATOR,
}


# --- click: arkor-temporal ------------------------------------------------------------------


def given_strings(value: object) -> list[str]:
    """The strings the parser collected for a parameter (nested for nargs and multiple; a
    flag's constant or a missing value is none)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in given_strings(item)]
    return []


def value_problems(command: click.Command, ctx: click.Context, opts: dict[str, Any]) -> list[str]:
    """Values their type refuses (a choice that is not one, a word for a number). Paths are
    not checked: the README's stand for the reader's files."""
    problems: list[str] = []
    for param in command.get_params(ctx):
        if param.name is None or isinstance(param.type, click.Path | click.File):
            continue
        for value in given_strings(opts.get(param.name)):
            if PLACEHOLDER_VALUE.fullmatch(value):
                continue
            try:
                param.type.convert(value, param, ctx)
            except click.BadParameter as exc:
                hint = param.get_error_hint(ctx)
                problems.append(f"{ctx.command_path}: {hint} {value!r}: {exc.message}")
    return problems


def leaf_problems(
    command: click.Command, ctx: click.Context, opts: dict[str, Any], rest: list[str], path: str
) -> list[str]:
    """Positional arguments: none beyond what ``command`` takes, none it needs missing."""
    if path in PASS_THROUGH:
        return PASS_THROUGH[path](rest)
    usage = f"usage: {path} {' '.join(command.collect_usage_pieces(ctx))}"
    problems = []
    if rest and not ctx.allow_extra_args:
        problems.append(f"{path}: unexpected extra argument(s) {' '.join(rest)} ({usage})")
    for param in command.params:
        if isinstance(param, click.Argument) and param.required:
            if param.name is None or not given_strings(opts.get(param.name)):
                problems.append(f"{path}: missing argument {param.human_readable_name} ({usage})")
    return problems


def context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """The context ``make_context`` would give ``command``, without parsing anything (so no
    callback runs). Not resilient: a resilient parser swallows its own errors."""
    return command.context_class(command, info_name=name, parent=parent, **command.context_settings)


def click_problems(
    args: Sequence[str], command: click.Command = cli, parent: click.Context | None = None
) -> list[str]:
    """What click would refuse in ``args`` for ``command``, down the command tree.

    click's own parser reads the words, so ``--opt=value``, ``-o value``, flags and options
    a command lacks count as click counts them; the values are then converted by their type.
    """
    ctx = parent or context(cli, "arkor-temporal", None)
    path = ctx.command_path
    try:
        opts, rest, _ = command.make_parser(ctx).parse_args(args=list(args))
    except click.UsageError as exc:  # an option it lacks, one without its value...
        return [f"{path}: {exc.format_message()}"]
    problems = value_problems(command, ctx, opts)
    if any(param.is_eager and param.name in opts for param in command.get_params(ctx)):
        return problems  # --help / --version: the command does nothing else, needs nothing
    if not isinstance(command, click.Group):
        return problems + leaf_problems(command, ctx, opts, rest, path)
    if not rest:  # the group alone: its help
        return problems
    sub = command.get_command(ctx, rest[0])
    if sub is None:
        known = ", ".join(command.list_commands(ctx))
        return [*problems, f"{path}: no command {rest[0]!r} (it has: {known})"]
    return problems + click_problems(rest[1:], sub, context(sub, rest[0], ctx))


# --- which program a command line runs ----------------------------------------------------

MODULES: dict[str, Checker] = {  # python -m NAME
    "arkor_temporal": click_problems,
    "arkor_temporal.worker": WORKER,
    "arkor_temporal.emulator": EMULATOR,
    "bench": argparse_program("bench.__main__"),
}
PROGRAMS: dict[str, Checker] = {  # by file name: arkor-temporal, .venv/bin/arkor-temporal
    "arkor-temporal": click_problems,
    "arkor-temporal-worker": WORKER,
    "worker.py": WORKER,  # python worker.py, ./worker.py
}


def program_of(argv: Sequence[str]) -> tuple[Checker, Sequence[str]] | None:
    """The parser of the program ``argv`` runs and the arguments it gets; None: not ours."""
    if not argv:
        return None
    name = Path(argv[0]).name
    if name in PROGRAMS:
        return PROGRAMS[name], argv[1:]
    if not PYTHON.fullmatch(name) or len(argv) < 2:
        return None
    if argv[1] == "-m":
        module = argv[2] if len(argv) > 2 else ""
        return (MODULES[module], argv[3:]) if module in MODULES else None
    script = Path(argv[1]).name
    return (PROGRAMS[script], argv[2:]) if script == "worker.py" else None


def names_ours(tokens: Sequence[str]) -> bool:
    """Whether a word of ``tokens`` is one of our programs (a line the test must not skip)."""
    pairs = zip(tokens, [*tokens[1:], ""], strict=True)
    return any(Path(t).name in PROGRAMS or (t == "-m" and n in MODULES) for t, n in pairs)


# --- the README's command lines ---------------------------------------------------------------


@dataclass(frozen=True)
class ReadmeCommand:
    line: int
    text: str
    words: tuple[Word, ...]

    @property
    def id(self) -> str:
        return f"L{self.line} {self.text}"

    def problems(self) -> list[str]:
        problems: list[str] = []
        for argv in variants(self.words):
            program = program_of(argv)
            assert program, f"not a command of ours: {argv}"
            checker, args = program
            problems += [p for p in checker(args) if p not in problems]
        return problems


def commands_on(number: int, line: str) -> Iterator[tuple[int, list[str]]]:
    line, insides = split_substitutions(line)
    for tokens in split_commands(line):
        if words := command_words(tokens):
            yield number, words
    for inside in insides:
        yield from commands_on(number, inside)


def shell_commands(readme: str) -> Iterator[tuple[int, list[str]]]:
    """Each command in the shell blocks, as words, with its README line."""
    for number, line in shell_lines(readme):
        yield from commands_on(number, line)


def required_words(words: Sequence[Word]) -> list[str]:
    return [word.choices[0] for word in words if not word.optional]


def readme_commands(readme: str) -> list[ReadmeCommand]:
    found = []
    for number, tokens in shell_commands(readme):
        words = words_of(tokens)
        if program_of(required_words(words)):
            text = " ".join(shlex.quote(t) if " " in t else t for t in tokens)
            text = text.replace(" | ", "|")  # alternatives, as written (pipes end a command)
            found.append(ReadmeCommand(number, text, tuple(words)))
    return found


def unchecked_commands(readme: str) -> list[str]:
    """Commands that name one of our programs but are not taken as one (``uv run
    arkor-temporal ...``, say): the parametrized test would skip them silently."""
    return [
        f"L{number} {' '.join(tokens)}"
        for number, tokens in shell_commands(readme)
        if names_ours(tokens) and not program_of(required_words(words_of(tokens)))
    ]


README_TEXT = README.read_text()
COMMANDS = readme_commands(README_TEXT)


@pytest.mark.parametrize("command", COMMANDS, ids=[command.id for command in COMMANDS])
def test_the_readme_command_names_a_real_command_and_its_options(command: ReadmeCommand) -> None:
    problems = command.problems()
    assert not problems, f"README.md line {command.line}: {command.text}\n" + "\n".join(problems)


def test_every_command_of_ours_in_the_readme_is_checked() -> None:
    assert COMMANDS, "no command lines found in the README's shell blocks"
    assert not unchecked_commands(README_TEXT)


def test_the_readme_mentions_every_top_level_command() -> None:
    names = [name for name, command in cli.commands.items() if not command.hidden]
    missing = [
        name
        for name in names
        if not re.search(rf"arkor-temporal {re.escape(name)}(?![\w-])", README_TEXT)
    ]
    assert not missing, f"`arkor-temporal --help` lists commands the README never shows: {missing}"
