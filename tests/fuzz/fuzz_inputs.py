"""Malformed inputs for the command line: study files, patient tables, tables of counts.

:func:`cases` enumerates every category of careless or hostile input the tool must refuse
(YAML structure, markup in addresses, unbounded and non-finite counts, encodings and binary
files, ragged CSV rows, stray quotes, identifiers, control characters, files cut short, bad
template ids and folders, usage errors). Each :class:`Case` says which command is given the
input, the exit status expected, and where the message must point (file, and row / field where
there is one). The seeds are the README's example study and patients (tests/fixtures) and the
shipped Baverez2022 study, so every case differs from a valid input by one change.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STUDY = (FIXTURES / "example_study.yaml").read_text(encoding="utf-8")
PATIENTS = (FIXTURES / "example_patients.csv").read_text(encoding="utf-8")
TABLE = "study,events,total\nA,3,10\nB,5,12\nC,7,20\n"
MAX_COUNT = 10**6  # the documented ceiling (data/FORMAT.md), written out independently


@dataclass(frozen=True)
class Case:
    """One malformed input and what the tool must answer.

    ``command``: ``add`` (``data add study.yaml [--patients patients.csv]``), ``validate``
    (``data validate`` of a base holding ``base_file``), ``table`` (``fit --model
    random-effects --data table.csv --method exact``), ``template`` (``data template ARGS``) or
    ``usage`` (``ARGS`` as given). ``names``: the file every problem line must name (``study``,
    ``patients``, ``table``, ``base``, or ``""`` for none); ``where``: fragments (row, field)
    that some problem line must hold.
    """

    id: str
    item: str
    command: str
    study: bytes | None = None
    patients: bytes | None = None
    table: bytes | None = None
    base_file: tuple[str, bytes] | None = None
    args: tuple[str, ...] = ()
    exit_code: int = 1
    names: str = "study"
    where: tuple[str, ...] = ()


def _study(*edits: tuple[str, str], text: str = STUDY) -> bytes:
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.encode("utf-8")


def _patients(edit: tuple[str, str] | None = None, text: str = PATIENTS) -> bytes:
    if edit is not None:
        assert text.count(edit[0]) == 1, edit[0]
        text = text.replace(*edit)
    return text.encode("utf-8")


def _set_cell(column: str, value: str, row: int = 1) -> bytes:
    """The example patients with one cell replaced (``row`` 1 = the first patient)."""
    rows = list(csv.reader(io.StringIO(PATIENTS)))
    rows[row][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _laughs(levels: int, width: int = 9) -> str:
    lines = ["a: &a [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n"


def yaml_structure() -> list[Case]:
    """Item 1 and 7: aliases, nesting, size, duplicate keys, tags, syntax."""
    out = []
    for levels in (2, 4, 6, 9):
        for width in (2, 9):
            out.append(
                Case(
                    f"alias-bomb-{levels}x{width}",
                    "1",
                    "add",
                    study=(_laughs(levels, width) + STUDY).encode(),
                    where=("line 1",),
                )
            )
    aliases = {
        "alias-scalar": ("  country: null\n", "  country: &c France\n  design_copy: *c\n"),
        "alias-as-notes": ("  country: null\n", "  country: *x\n"),
        "alias-stratum": ("strata:\n", "strata:\n  - &s {id: x}\n  - *s\n"),
        "alias-recursive": ("reported:\n", "loop: &l [*l]\nreported:\n"),
        "merge-key": ("  year: 2024\n", "  year: 2024\n  <<: {pool: false}\n"),
    }
    for name, edit in aliases.items():
        text = (
            STUDY.replace("study:\n", "x: &x [1]\nstudy:\n", 1)
            if name == "alias-as-notes"
            else STUDY
        )
        out.append(Case(name, "1", "add", study=_study(edit, text=text)))
    for depth in (17, 40, 999, 5000, 100_000):
        deep = "[" * depth + "]" * depth
        out.append(
            Case(
                f"deep-flow-{depth}",
                "1",
                "add",
                study=_study(("  country: null\n", f"  country: {deep}\n")),
            )
        )
    for depth in (17, 60):
        block = (
            "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth)) + "  " * (depth + 1) + "v\n"
        )
        out.append(
            Case(f"deep-block-{depth}", "1", "add", study=("deep:\n" + block + STUDY).encode())
        )
    out.append(
        Case(
            "deep-sequence-3000",
            "1",
            "add",
            study=_study(("  country: null\n", "  country:\n    " + "- " * 3000 + "x\n")),
        )
    )
    out.append(
        Case(
            "too-many-values",
            "1",
            "add",
            study=_study(("  country: null\n", "  country: [" + ",".join(["1"] * 60_000) + "]\n")),
        )
    )
    out.append(
        Case(
            "huge-scalar",
            "1",
            "add",
            study=_study(
                ("  design: retrospective", "  design: " + "x" * 2_000_000 + " retrospective")
            ),
            where=("study: design",),
        )
    )
    duplicates = {
        "dup-top": ("reported:\n", "study:\n  id: Other\nreported:\n"),
        "dup-study-field": ("  year: 2024\n", "  year: 2024\n  year: 2025\n"),
        "dup-stratum-field": ("    events: 3\n", "    events: 3\n    events: 4\n"),
        "dup-etiology": (
            "{infection: 3, malignancy: 2}\n    line: {first",
            "{infection: 3, infection: 2}\n    line: {first",
        ),
        "dup-line": ("line: {first: 2, later: 3}", "line: {first: 2, first: 3}"),
        "dup-reported": (
            "  - key: patients_total\n    value: 8\n",
            "  - key: patients_total\n    value: 8\n    value: 9\n",
        ),
        "dup-quoted-key": ("  year: 2024\n", '  year: 2024\n  "year": 2025\n'),
    }
    for name, edit in duplicates.items():
        out.append(Case(name, "7", "add", study=_study(edit), where=("key given twice",)))
    tags = {
        "tag-python-object": "!!python/object:os.system ls",
        "tag-python-apply": "!!python/object/apply:os.system ['true']",
        "tag-python-name": "!!python/name:os.system",
        "tag-unknown": "!whatever 1",
        "tag-int-text": "!!int abc",
        "tag-float-text": "!!float abc",
        "tag-timestamp-impossible": "!!timestamp 2021-02-30",
        "tag-int-5000-digits": "!!int " + "9" * 5000,
        "tag-binary-bad": "!!binary '*'",
        "tag-set": "!!set {a, b}",
    }
    for name, value in tags.items():
        out.append(
            Case(
                name,
                "1",
                "add",
                study=_study(("  country: null\n", f"  country: {value}\n")),
                where=("line ",),
            )
        )
    syntax = {
        "tab-indent": ("  year: 2024\n", "\tyear: 2024\n"),
        "unclosed-flow": ("  year: 2024\n", "  year: [2024\n"),
        "unclosed-quote": ('  citation: "Made-up', '  citation: "Made-up\n  x: "'),
        "bad-indent": ("  year: 2024\n", "    year: 2024\n"),
        "second-document": ("reported:\n", "---\nreported:\n"),
        "stray-colon": ("  year: 2024\n", "  year: 2024: 2025\n"),
    }
    for name, edit in syntax.items():
        out.append(Case(name, "1", "add", study=_study(edit), where=("line ",)))
    for name, text in {
        "root-list": "- a\n- b\n",
        "root-scalar": "just text\n",
        "root-null": "~\n",
        "empty-file": "",
        "comment-only": "# nothing here\n",
        "root-not-study": "a: 1\n",
    }.items():
        out.append(Case(name, "1", "add", study=text.encode()))
    return out


def markup() -> list[Case]:
    """Item 2: addresses that are not http(s), and DOIs that are not DOIs."""
    url_line = "  url: https://example.org/hlhbayes/example2024\n"
    bad = [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        " javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "//example.org/x",
        "example.org/x",
        "https://",
        "http:///path",
        "https://example.org/a b",
        'https://example.org/"onmouseover="alert(1)',
        "https://example.org/<script>",
        "https://example.org/\\x",
        "https://exa\x00mple.org",
        "https://example.org/\u202eevil",
        "mailto:a@example.org",
    ]
    out = []
    for i, address in enumerate(bad):
        value = '"' + address.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0") + '"'
        out.append(
            Case(
                f"url-{i}",
                "2",
                "add",
                study=_study((url_line, f"  url: {value}\n")),
                where=("study: url",),
            )
        )
    for i, address in enumerate(bad[:6]):
        value = '"' + address.replace('"', '\\"') + '"'
        out.append(
            Case(
                f"source-{i}",
                "2",
                "add",
                study=_study(
                    (
                        '    source: null\n    note: "The five',
                        f'    source: {value}\n    note: "The five',
                    )
                ),
                where=("strata[0]: source",),
            )
        )
    for i, doi in enumerate(
        [
            "javascript:alert(1)",
            "10.1/x",
            "10.abcd/x",
            "10.1000/a b",
            "11.1000/x",
            "doi:",
            "https://doi.org/",
            "<script>",
        ]
    ):
        out.append(
            Case(
                f"doi-{i}",
                "2",
                "add",
                study=_study(("  doi: null\n", f'  doi: "{doi}"\n')),
                where=("study: doi",),
            )
        )
    return out


def counts() -> list[Case]:
    """Item 3: counts beyond the ceiling, negative, fractional, non-finite, of the wrong type."""
    values = {
        "1e30": "1.0e+30",
        "2p63": str(2**63),
        "10p40": str(10**40),
        "ceiling+1": str(MAX_COUNT + 1),
        "neg": "-1",
        "nan": ".nan",
        "inf": ".inf",
        "minus-inf": "-.inf",
        "half": "2.5",
        "quarter": "2.25",
        "text": '"3"',
        "bool": "true",
        "list": "[3]",
    }
    fields = {
        "events": (("    events: 3\n", "    events: {}\n"), "strata[0]: events"),
        "total": (
            ("    events: 3\n    total: 5\n", "    events: 3\n    total: {}\n"),
            "strata[0]: total",
        ),
        "etiology": (
            (
                "{infection: 3, malignancy: 2}\n    line: {first",
                "{{infection: {}, malignancy: 2}}\n    line: {{first",
            ),
            "strata[0].etiology: infection",
        ),
        "line": (
            ("line: {first: 2, later: 3}", "line: {{first: {}, later: 3}}"),
            "strata[0].line: first",
        ),
    }
    out = []
    for fname, ((old, template), where) in fields.items():
        for vname, value in values.items():
            if fname == "etiology" and vname == "half":
                continue  # an etiology count may be a half: a patient with two triggers
            out.append(
                Case(
                    f"{fname}-{vname}",
                    "3",
                    "add",
                    study=_study((old, template.format(value))),
                    where=(where,),
                )
            )
    for vname, value in {
        "nan": ".nan",
        "inf": ".inf",
        "minus-inf": "-.inf",
        "10p40": str(10**40),
        "1e400": "1.0e+400",
    }.items():
        out.append(
            Case(
                f"reported-{vname}",
                "3",
                "add",
                study=_study(("    value: 8\n", f"    value: {value}\n")),
                where=("reported[0]: value",),
            )
        )
    cells = {
        "nan": "nan",
        "inf": "inf",
        "neg": "-1",
        "1e30": "1e30",
        "10p40": str(10**40),
        "2p63": str(2**63),
        "text": "abc",
    }
    for column in (
        "patient",
        "age",
        "hscore",
        "anakinra_line",
        "anakinra_days",
        "corticosteroid_days",
    ):
        for vname, value in cells.items():
            if column == "age" and vname == "neg":
                value = "-0.5"
            out.append(
                Case(
                    f"patients-{column}-{vname}",
                    "3",
                    "add",
                    study=STUDY.encode(),
                    patients=_set_cell(column, value),
                    names="patients",
                    where=(f"row 2: {column}",),
                )
            )
    table_values = [
        "1e30",
        str(2**63),
        str(10**40),
        str(MAX_COUNT + 1),
        "-5",
        "nan",
        "inf",
        "-inf",
        "",
        "7.5",
        "0x10",
        "1,5",
    ]
    for column in ("events", "total"):
        for i, value in enumerate(table_values):
            cell = f'"{value}"' if "," in value else value
            row = f"B,{cell},12" if column == "events" else f"B,5,{cell}"
            out.append(
                Case(
                    f"table-{column}-{i}",
                    "3",
                    "table",
                    table=f"study,events,total\nA,3,10\n{row}\n".encode(),
                    names="table",
                    where=(f"row 3: {column}",),
                )
            )
    return out


def encodings() -> list[Case]:
    """Item 6: files that are not UTF-8 text, for every kind of input."""

    def variants(text: str) -> dict[str, bytes]:
        accented = (
            text.replace("Made-up", "Caf\u00e9 \u201cmade-up\u201d", 1)
            if "Made-up" in text
            else text + "\u00e9\n"
        )
        return {
            "utf16le-bom": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
            "utf16be-bom": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
            "utf32le-bom": codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
            "utf32be-bom": codecs.BOM_UTF32_BE + text.encode("utf-32-be"),
            "utf16-no-bom": text.encode("utf-16-le"),
            "latin1": accented.replace("\u201c", '"').replace("\u201d", '"').encode("latin-1"),
            "cp1252": accented.encode("cp1252"),
            "cut-utf8": text.encode() + b"\xe2\x82\n",
            "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
            "nul-inside": text.encode()[:100] + b"\x00" + text.encode()[100:],
        }

    out = []
    for name, data in variants(STUDY).items():
        out.append(Case(f"study-{name}", "6", "add", study=data))
        out.append(
            Case(
                f"base-{name}",
                "6",
                "validate",
                base_file=("studies/Broken.yaml", data),
                names="base",
            )
        )
    for name, data in variants(PATIENTS).items():
        out.append(
            Case(
                f"patients-{name}",
                "6",
                "add",
                study=STUDY.encode(),
                patients=data,
                names="patients",
            )
        )
    for name, data in variants(TABLE).items():
        out.append(Case(f"table-{name}", "6", "table", table=data, names="table"))
    return out


def ragged() -> list[Case]:
    """Items 6 and 7: short and long rows, stray and unterminated quotes, cut files."""
    out = []
    for i, row in enumerate(["B,5", "B", "B,5,12,7", ",,12", "B;5;12"]):
        out.append(
            Case(
                f"table-ragged-{i}",
                "6",
                "table",
                table=f"study,events,total\nA,3,10\n{row}\n".encode(),
                names="table",
                where=("row 3",),
            )
        )
    for i, text in enumerate(
        [
            'study,events,total\nA,3,10\n"B,5,12\n',
            'study,events,total\nA,3,10\n"B"x,5,12\n',
            'study,"events,total\nA,3,10\n',
        ]
    ):
        out.append(
            Case(
                f"table-quote-{i}",
                "6",
                "table",
                table=text.encode(),
                names="table",
                where=("row ",),
            )
        )
    lines = PATIENTS.splitlines(keepends=True)
    last = lines[-1]
    # a cut inside the last cell leaves a complete row with shorter text: it cannot be seen
    end = last.rindex(",")
    cuts = sorted({i for i, c in enumerate(last) if c == "," and i < end} | set(range(5, end, 17)))
    for cut in cuts:
        out.append(
            Case(
                f"patients-cut-{cut}",
                "7",
                "add",
                study=STUDY.encode(),
                patients=("".join(lines[:-1]) + last[:cut] + "\n").encode(),
                names="patients",
                where=(f"row {len(lines)}",),
            )
        )
    first = lines[1]
    out.append(
        Case(
            "patients-long-row",
            "6",
            "add",
            study=STUDY.encode(),
            patients=_patients((first, first.rstrip("\n") + ",surplus\n")),
            names="patients",
            where=("row 2",),
        )
    )
    out.append(
        Case(
            "patients-stray-quote",
            "6",
            "add",
            study=STUDY.encode(),
            patients=_patients(("EBV infection", '"EBV" infection')),
            names="patients",
            where=("row 2",),
        )
    )
    out.append(
        Case(
            "patients-dup-column",
            "6",
            "add",
            study=STUDY.encode(),
            patients=_patients(("study,patient,age,", "study,patient,age,age,")),
            names="patients",
            where=("header",),
        )
    )
    study_lines = STUDY.splitlines(keepends=True)
    boundary = STUDY.index("strata:\n")
    cut_at = [i for i in range(1, len(study_lines)) if len("".join(study_lines[:i])) <= boundary]
    for i in cut_at:
        out.append(Case(f"study-cut-line-{i}", "7", "add", study="".join(study_lines[:i]).encode()))
    start = STUDY.index("  - id: deaths-others")
    for i in range(len(study_lines)):
        cut = "".join(study_lines[:i])
        if start < len(cut) < len(STUDY) - len(study_lines[-1]) - len(study_lines[-2]):
            out.append(
                Case(
                    f"study-cut-stratum-line-{i}",
                    "7",
                    "add",
                    study=cut.encode(),
                    where=("strata[1]",),
                )
            )
    return out


def weak_checks() -> list[Case]:
    """Item 7: identifiers in other forms, control characters, bad template ids and folders."""
    out = []
    for i, doi in enumerate(
        [
            "10.3390/JCM11195799",
            "https://doi.org/10.3390/jcm11195799",
            "http://dx.doi.org/10.3390/jcm11195799",
            "doi:10.3390/jcm11195799",
            "DOI: 10.3390/JCM11195799",
        ]
    ):
        out.append(
            Case(
                f"dup-doi-{i}",
                "7",
                "add",
                study=_study(("  doi: null\n", f'  doi: "{doi}"\n')),
                where=("study: doi", "Baverez2022"),
            )
        )
    for i, pmid in enumerate(
        ["36233667", "036233667", "PMID: 36233667", "pmid:36233667", "PMID 0036233667"]
    ):
        out.append(
            Case(
                f"dup-pmid-{i}",
                "7",
                "add",
                study=_study(("  pmid: null\n", f'  pmid: "{pmid}"\n')),
                where=("study: pmid", "Baverez2022"),
            )
        )
    for i, pmid in enumerate(["abc", "0", "-5", "1e5", "1234567890"]):
        out.append(
            Case(
                f"bad-pmid-{i}",
                "7",
                "add",
                study=_study(("  pmid: null\n", f'  pmid: "{pmid}"\n')),
                where=("study: pmid",),
            )
        )
    controls = {
        "nul": "\\0",
        "esc": "\\e[31m",
        "bell": "\\a",
        "del": "\\x7f",
        "c1": "\\x85",
        "rlo": "\\u202E",
        "backspace": "\\b",
        "vt": "\\v",
    }
    text_fields = {
        "citation": ('  citation: "Made-up', '  citation: "{}Made-up', "study: citation"),
        "design": ("  design: retrospective", '  design: "{}" # retrospective', "study: design"),
        "response_definition": (
            "  response_definition: Fever",
            '  response_definition: "{}" # Fever',
            "study: response_definition",
        ),
        "location": (
            "    location: Results paragraph 2\n",
            '    location: "{}Results paragraph 2"\n',
            "strata[0]: location",
        ),
        "note": (
            "    note: patients described one by one\n",
            '    note: "{}described"\n',
            "reported[1]: note",
        ),
    }
    for fname, (old, template, where) in text_fields.items():
        for cname, char in controls.items():
            out.append(
                Case(
                    f"control-{fname}-{cname}",
                    "7",
                    "add",
                    study=_study((old, template.format(char))),
                    where=(where,),
                )
            )
    for fname in ("citation", "design", "location"):
        old, template, where = text_fields[fname]
        out.append(
            Case(
                f"newline-{fname}",
                "7",
                "add",
                study=_study((old, template.format("two\\nlines "))),
                where=(where,),
            )
        )
    for column in (
        "factors",
        "treatment_lines",
        "efficacy",
        "status",
        "outcome_summary",
        "location",
    ):
        for cname, char in {
            "nul": "\x00",
            "esc": "\x1b[2J",
            "rlo": "\u202e",
            "del": "\x7f",
        }.items():
            if cname == "nul":
                continue  # a NUL byte makes the file binary: an encoding case
            out.append(
                Case(
                    f"patients-control-{column}-{cname}",
                    "7",
                    "add",
                    study=STUDY.encode(),
                    patients=_set_cell(column, f"a{char}b"),
                    names="patients",
                    where=(f"row 2: {column}",),
                )
            )
    for i, sid in enumerate(
        [
            "x\n",
            "New2026\n",
            "2026New",
            "New 2026",
            "New/2026",
            "../New",
            "New-2026",
            "N" * 61,
            "Caf\u00e9",
            "New\x00",
            "",
        ]
    ):
        out.append(Case(f"template-id-{i}", "7", "template", args=(sid,), names=""))
    return out


def usage() -> list[Case]:
    """Usage errors: exit 2."""
    return [
        Case(
            "usage-missing-file",
            "usage",
            "usage",
            args=("data", "add", "missing.yaml"),
            exit_code=2,
            names="",
        ),
        Case(
            "usage-folder-as-file",
            "usage",
            "usage",
            args=("data", "add", "."),
            exit_code=2,
            names="",
        ),
        Case(
            "usage-unknown-option",
            "usage",
            "usage",
            args=("data", "add", "study.yaml", "--frobnicate"),
            exit_code=2,
            names="",
            study=STUDY.encode(),
        ),
        Case(
            "usage-missing-patients",
            "usage",
            "usage",
            args=("data", "add", "study.yaml", "--patients", "nope.csv"),
            exit_code=2,
            names="",
            study=STUDY.encode(),
        ),
        Case(
            "usage-bad-format",
            "usage",
            "usage",
            args=("data", "list", "--format", "xml"),
            exit_code=2,
            names="",
        ),
    ]


def cases() -> list[Case]:
    """Every enumerated case (ids unique)."""
    found = [
        *yaml_structure(),
        *markup(),
        *counts(),
        *encodings(),
        *ragged(),
        *weak_checks(),
        *usage(),
    ]
    ids = [c.id for c in found]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return found
