"""The root `suanwang` command."""

from __future__ import annotations

import typer

from suanwang import __version__
from suanwang.cli import audit, control, energy, ledger, market, net, remote, schedule, up, world
from suanwang.cli.agent import agent_cmd
from suanwang.cli.units import units

app = typer.Typer(
    name="suanwang",
    help="Suanwang (算网): a computing-power network. Use compute like electricity.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(world.app, name="world")
app.add_typer(net.app, name="net")
app.add_typer(energy.app, name="energy")
app.add_typer(schedule.tasks_app, name="tasks")
app.add_typer(market.app, name="market")
app.add_typer(ledger.app, name="ledger")
app.add_typer(control.app, name="control")
app.add_typer(audit.app, name="audit")
app.command(name="up")(up.up_cmd)
app.command(name="agent")(agent_cmd)
app.command(name="submit")(remote.submit_cmd)
app.command(name="watch")(remote.watch_cmd)
app.command(name="balance")(remote.balance_cmd)
schedule.tasks_app.command(name="list")(remote.tasks_list_cmd)
schedule.tasks_app.command(name="show")(remote.tasks_show_cmd)
schedule.tasks_app.command(name="cancel")(remote.tasks_cancel_cmd)
token_app = typer.Typer(help="API tokens: create (admins) and revoke.", no_args_is_help=True)
token_app.command(name="create")(remote.token_create_cmd)
token_app.command(name="revoke")(remote.token_revoke_cmd)
app.add_typer(token_app, name="token")
app.command(name="schedule", help=schedule.SCHEDULE_HELP)(schedule.schedule_cmd)
app.command(name="why-not", help=schedule.WHY_NOT_HELP)(schedule.why_not_cmd)
app.command(name="units")(units)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"suanwang {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Suanwang (算网): a computing-power network. Use compute like electricity."""


def main() -> None:
    """Console-script entry point."""
    app()
