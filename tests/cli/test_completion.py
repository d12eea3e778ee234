"""Shell completion: the script `completion bash` prints completes commands in a real bash."""

from __future__ import annotations

import subprocess

from tests.support.cli import CLI


def bash_completions(words: str) -> list[str]:
    """What bash offers after ``words`` with the script loaded, as a person's shell would
    (bash calls the completion function with the command's path)."""
    script = (
        f'source <("{CLI}" completion bash); '
        f"COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); "
        f'_arkor_temporal_completion "{CLI}"; '
        "printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.split()


def test_bash_completes_commands_subcommands_options_and_choices() -> None:
    assert "run" in bash_completions("arkor-temporal r")
    assert bash_completions("arkor-temporal run st") == ["start", "status"]
    assert "--watch" in bash_completions("arkor-temporal run start spec.yaml --w")
    assert bash_completions("arkor-temporal run list --phase c") == ["completed", "cancelled"]


def test_every_shell_gets_a_script_naming_the_program() -> None:
    for shell in ("bash", "zsh", "fish"):
        done = subprocess.run([CLI, "completion", shell], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "_ARKOR_TEMPORAL_COMPLETE" in done.stdout
    wrong = subprocess.run([CLI, "completion", "tcsh"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "tcsh" in wrong.stderr
