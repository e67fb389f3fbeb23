"""The `suanwang` command line (Typer + Rich). Every command takes ``--json`` for scripts."""
