"""``arkor-temporal completion SHELL``: the shell's completion script for every command."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from arkor_temporal.cli.app import cli

PROGRAM = "arkor-temporal"
# click answers completion requests itself when this variable is set (``bash_complete``...).
COMPLETE_VARIABLE = "_ARKOR_TEMPORAL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print SHELL's completion script (commands, subcommands, options, choices).

    \b
    bash:  echo 'eval "$(arkor-temporal completion bash)"' >> ~/.bashrc
    zsh:   echo 'eval "$(arkor-temporal completion zsh)"' >> ~/.zshrc
    fish:  arkor-temporal completion fish > ~/.config/fish/completions/arkor-temporal.fish
    """
    completer = get_completion_class(shell)
    assert completer is not None  # every choice is one click knows
    click.echo(completer(cli, {}, PROGRAM, COMPLETE_VARIABLE).source())
