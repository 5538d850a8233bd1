"""The `preflight` click group: every usage error becomes one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from preflight import __version__
from preflight.errors import UsageError
from preflight.reporting import policy

ASCII_HELP = (
    "Write only ASCII to stdout and stderr (also PREFLIGHT_ASCII=1), for a console or pipe that reads its own code "
    "page; otherwise pipes and files get UTF-8."
)


def usage_exit(message: str) -> NoReturn:
    click.echo(f"preflight: error: {message}", err=True)
    sys.exit(policy.EXIT_USAGE)


def say(message: str) -> None:
    """One line for the person, on stderr."""
    click.echo(message, err=True)


class OneLineErrors(click.Group):
    """Click's multi-line usage errors, and the library's UsageError, become one line on stderr and exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(policy.EXIT_USAGE)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            usage_exit(f"{exc.format_message()}{hint}")
        except click.ClickException as exc:
            usage_exit(exc.format_message())
        except click.exceptions.Abort:
            click.echo("preflight: aborted", err=True)
            sys.exit(policy.EXIT_SIGNAL["SIGINT"])
        except UsageError as exc:
            usage_exit(str(exc))


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="connector-preflight")
@click.option("--ascii", "ascii_only", is_flag=True, help=ASCII_HELP)
def cli(ascii_only: bool) -> None:
    """Check, before installing a Microsoft Entra private network connector, whether this host's network will
    let it work, and what to fix if not."""
    # --ascii is applied in main(), before click prints anything (streams.ascii_requested)


def accept_ascii_everywhere(group: click.Group) -> None:
    """`preflight run --ascii` works like `preflight --ascii run`: main() reads it wherever it stands."""
    for command in [*group.commands.values()]:
        command.params.append(
            click.Option(["--ascii"], "ascii_only", is_flag=True, expose_value=False, help=ASCII_HELP)
        )
        if isinstance(command, click.Group):
            accept_ascii_everywhere(command)
