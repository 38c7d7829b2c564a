"""``hlhbayes init`` (make a workspace) and ``hlhbayes --version`` (the package and its evidence)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hlhbayes import __version__
from hlhbayes.errors import HlhBayesError


@click.command()
@click.argument(
    "folder", required=False, default=".", type=click.Path(path_type=Path, file_okay=False)
)
@click.option(
    "--force",
    is_flag=True,
    help="Make it in a folder that is not empty: its data/, models/ and hlhbayes.toml are "
    "replaced, runs/ and every other file kept.",
)
def init(folder: Path, force: bool) -> None:
    """Make a workspace here or in FOLDER.

    FOLDER (default: the current folder) is made if it does not exist. A workspace holds a copy of the shipped evidence base (data/), the model specs (models/),
    an empty runs/ and hlhbayes.toml, which marks it: every command run in FOLDER or below it
    uses these (unless --data, $HLHBAYES_DATA or $HLHBAYES_MODELS say otherwise), and
    `hlhbayes data add` adds studies to its data/. A FOLDER that is not empty is refused unless
    --force.
    """
    from hlhbayes.evidence import load_evidence
    from hlhbayes.workspace import MARKER, create_workspace, shipped_data_dir

    base = load_evidence(shipped_data_dir())
    made = create_workspace(folder, base.content_hash, f"hlhbayes {__version__}", force=force)
    ws = made.workspace
    n_patients = len(base.patients)
    rows = [
        (
            ws.data,
            f"the evidence base: {len(base.studies)} studies, {n_patients} patient rows "
            f"(a copy of the shipped one, content hash {base.content_hash[:12]})",
        ),
        (ws.models, f"model specs: {', '.join(made.specs)}"),
        (ws.runs, "fits go here"),
        (ws.marker, "marks the workspace"),
    ]
    click.echo(f"made a workspace in {folder}")
    for path, what in rows:
        shown = f"{path}{'/' if path.is_dir() else ''}"
        click.echo(f"  {shown:<28} {what}")
    if made.replaced:
        names = ", ".join(p.name for p in made.replaced)
        click.echo(f"replaced (--force): {names}")
    if os.environ.get("HLHBAYES_DATA"):
        click.echo(
            "note: $HLHBAYES_DATA is set: commands use that evidence base, not this workspace's",
            err=True,
        )
    click.echo("next:")
    if Path(folder).resolve() != Path.cwd().resolve():
        click.echo(f"  cd {folder}")
    click.echo("  hlhbayes data validate")
    click.echo("  hlhbayes fit --etiology infection")
    click.echo("  hlhbayes data template Smith2026 --patients   # a new study to fill in and add")
    click.echo(
        f"(commands find the workspace by its {MARKER}, from the folder they run in upwards)"
    )


def show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the package version, and the evidence base a command here would use."""
    if not value or ctx.resilient_parsing:
        return
    from hlhbayes.evidence import EvidenceError, load_evidence
    from hlhbayes.workspace import evidence_source, models_source

    click.echo(f"hlhbayes {__version__}")
    try:
        source = evidence_source()
        click.echo(f"evidence base: {source.path} ({source.describe()})")
        try:
            click.echo(f"content hash: {load_evidence(source.path).content_hash}")
        except EvidenceError as exc:
            click.echo(
                f"content hash: none: {len(exc.issues)} problems (hlhbayes data validate lists "
                "them)"
            )
        specs = models_source()
        click.echo(f"model specs: {specs.path} ({specs.describe()})")
    except HlhBayesError as exc:
        click.echo(f"error: {exc.user_message()}", err=True)
        ctx.exit(1)
    ctx.exit()
