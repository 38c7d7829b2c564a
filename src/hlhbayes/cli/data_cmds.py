"""``hlhbayes data``: validate, list, show, export patients and add studies."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from hlhbayes.cli.common import emit_frame, emit_json
from hlhbayes.cli.options import data_option, format_option, wait_options
from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import default_data_dir, load_evidence
from hlhbayes.evidence.reconcile import reconcile
from hlhbayes.quoting import quoted
from hlhbayes.workspace import writable_evidence

PATIENT_EXPORT_COLUMNS = [
    "patient",
    "age",
    "sex",
    "hscore",
    "anakinra_line",
    "regimen",
    "response",
    "died",
    "anakinra_days",
    "corticosteroid_days",
    "infection",
    "malignancy",
    "rheumatic",
    "medication",
    "other",
    "unknown",
    "factors",
    "treatment_lines",
    "efficacy",
    "status",
    "outcome_summary",
    "location",
    "judgement",
]
PATIENT_TABLE_COLUMNS = PATIENT_EXPORT_COLUMNS[:16]


@click.group()
def data() -> None:
    """Inspect, validate and extend the evidence base."""


@data.command()
@click.argument("path", required=False, type=click.Path(path_type=Path, file_okay=False))
@data_option()
@wait_options
def validate(path: Path | None, data_path: Path | None) -> None:
    """Validate every study, stratum and patient file under PATH (or --data; default: the base).

    Lists every problem with its file, row and field, and exits 1 if there is any.
    Disagreements between a paper's text and its patient table are reported as notes, and
    implausible figures kept as printed (an H score above 337, say) as warnings. A change that
    an interrupted command left half done is undone first (a note says so), and temporary
    files it left are listed as warnings (the next `data add` removes them).
    """
    from hlhbayes.evidence.load import base_leftovers
    from hlhbayes.evidence.plausibility import plausibility_warnings

    if path is not None and data_path is not None and path != data_path:
        raise HlhBayesError(f"two evidence bases given: PATH {path} and --data {data_path}")
    path = path or data_path
    base = load_evidence(path)
    n_strata = sum(len(s.strata) for s in base.studies.values())
    click.echo(
        f"ok: {len(base.studies)} studies, {n_strata} strata, {len(base.patients)} patients "
        f"in {path or default_data_dir()}"
    )
    click.echo(f"content hash: {base.content_hash}")
    for sid in sorted(base.studies):
        disagreements = [f for f in reconcile(base, sid) if f.status == "disagrees"]
        if disagreements:
            click.echo(
                f"note: {sid}: {len(disagreements)} stated figures disagree with the patient "
                f"table (see: hlhbayes describe {sid})",
                err=True,
            )
    for warning in plausibility_warnings(base):
        click.echo(f"warning: {warning}", err=True)
    for leftover in base_leftovers(base.root):
        click.echo(
            f"warning: {leftover}: left by an interrupted hlhbayes command (the next data add "
            "removes it)",
            err=True,
        )


@data.command(name="list")
@data_option()
@format_option("table", "csv", "json")
def list_studies(data_path: Path | None, fmt: str) -> None:
    """List the studies with population, condition, pooling status and record counts."""
    emit_frame(load_evidence(data_path).studies_frame(), fmt)


@data.command()
@click.argument("study")
@data_option()
@format_option("table", "json")
def show(study: str, data_path: Path | None, fmt: str) -> None:
    """Show one study: its record, the aggregates it reports, and its strata."""
    base = load_evidence(data_path)
    record = base.study(study)
    if fmt == "json":
        emit_json(record.model_dump(mode="json"))
        return
    for name, value in record.study.model_dump().items():
        if value is not None:
            click.echo(f"{name + ':':<21}{value}")
    click.echo(f"{'patients:':<21}{len(base.patients_of(study))}")
    if record.reported:
        click.echo("\nReported aggregates")
        rows = pd.DataFrame([r.model_dump(exclude={"note"}) for r in record.reported])
        # each value as stated (21, not 21.000 from a column of ints and floats)
        rows["value"] = pd.Series([str(r.value) for r in record.reported], dtype=object)
        click.echo(rows.to_string(index=False))
    strata = base.strata_frame()
    if not strata.empty and (strata["study"] == study).any():
        click.echo("\nStrata")
        mine = strata[strata["study"] == study].drop(columns=["study", "location"])
        mine = mine.dropna(axis=1, how="all")
        click.echo(mine.to_string(index=False, na_rep=""))


@data.command()
@click.argument("study")
@data_option()
@format_option("table", "csv", "json")
def patients(study: str, data_path: Path | None, fmt: str) -> None:
    """Export the patient rows of STUDY (flags, response and death as 0/1; missing as empty)."""
    base = load_evidence(data_path)
    frame = base.patients_frame(study)
    if frame.empty:
        raise HlhBayesError(f"study {quoted(study)} has no patient rows")
    ages = frame["age"].dropna()
    if (ages == ages.round()).all():
        frame["age"] = frame["age"].round().astype("Int64")
    columns = PATIENT_TABLE_COLUMNS if fmt == "table" else PATIENT_EXPORT_COLUMNS
    emit_frame(frame[columns], fmt)


@data.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--patients",
    "patients_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A CSV of patient rows for this study (format: data/FORMAT.md).",
)
@click.option("--dry-run", is_flag=True, help="Validate only; write nothing.")
@click.option("--replace", is_flag=True, help="Replace a study with the same id.")
@click.option(
    "--allow-overlap",
    is_flag=True,
    help="Add a study whose overlap group is already pooled, with pool: false.",
)
@data_option()
@wait_options
def add(
    file: Path,
    patients_file: Path | None,
    dry_run: bool,
    replace: bool,
    allow_overlap: bool,
    data_path: Path | None,
) -> None:
    """Add the study in FILE (YAML; see data/FORMAT.md) to the evidence base.

    The new study is validated together with the whole base; files are written only if
    everything passes, and atomically: the study file and its patient table both, or neither,
    also if the command is killed. Refuses a duplicate id or DOI, and an overlap with a pooled
    study, unless told otherwise. While another hlhbayes command uses the base, waits for it.
    """
    from hlhbayes.evidence.add import add_study

    root = writable_evidence(data_path)
    plan = add_study(
        root,
        file,
        patients_file,
        replace=replace,
        allow_overlap=allow_overlap,
        dry_run=dry_run,
    )
    for notice in plan.notices:
        click.echo(f"note: {notice}", err=True)
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    targets = ", ".join(str(p) for p in plan.writes)
    if dry_run:
        click.echo(f"dry run: {plan.study_id} is valid; would write {targets}")
        click.echo(f"content hash after: {plan.content_hash}")
        return
    click.echo(f"added {plan.study_id}: wrote {targets}")
    click.echo(f"content hash: {plan.content_hash}")


@data.command()
@click.argument("study")
@click.option("--patients", is_flag=True, help="Also write STUDY.csv: the patients CSV header.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder to write the template(s) in.",
)
@click.option("--force", is_flag=True, help="Replace existing template files.")
def template(study: str, patients: bool, folder: Path, force: bool) -> None:
    """Write STUDY.yaml (and with --patients STUDY.csv): blank study files to fill in.

    Every field is there with its allowed values in a comment; the ones to take from the paper
    are null, and `data add` names each until it is filled in. Then:
    `hlhbayes data add STUDY.yaml [--patients STUDY.csv]` and `hlhbayes update`.
    """
    from hlhbayes.atomic import write_atomically
    from hlhbayes.evidence.template import template_files

    files = template_files(study, folder, patients, evidence_base=default_data_dir())
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        raise HlhBayesError(f"{', '.join(existing)}: exists; use --force to replace")
    write_atomically(files)
    for path in files:
        click.echo(f"wrote {path}")
    check = f"hlhbayes data add {folder / f'{study}.yaml'}"
    if patients:
        check += f" --patients {folder / f'{study}.csv'}"
    click.echo(f"fill in the nulls (data/FORMAT.md explains each field), then: {check} --dry-run")
