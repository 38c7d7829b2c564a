"""YAML of study files, read with the rules a careless or hostile file needs.

PyYAML's safe loader builds plain data only (no tag runs code), but on its own it expands
aliases (nine levels of nine aliases, the "billion laughs", become 9^9 values), recurses once
per nesting level (a RecursionError deep down), keeps the last of two equal keys without a
word, and fails on an impossible date with no line. :func:`load_yaml` refuses, with the line:

- an **alias** (``*name``): a study file never needs one; without aliases what is built is no
  larger than the file (an anchor ``&name`` on its own is inert and accepted);
- nesting deeper than :data:`MAX_DEPTH` levels, and more than :data:`MAX_NODES` values;
- a **key given twice** in one mapping, and merge keys (``<<``);
- a value its tag cannot hold (``!!int x``, ``!!timestamp 2021-02-30``), naming the key, and
  tags of anything but plain values (``!!set``, ``!!binary``, ``!!python/...``).

Plain dates are read as text: no field of a study file is a date, so ``2021-02-30`` in a note
is just words, and in a number field the schema names the field.

libyaml's loader (``CSafeLoader``) is used when PyYAML has it, the pure-Python one otherwise.
Both enforce the same rules through the same hooks of PyYAML's Python layer, which both
composers and constructors call: ``descend_resolver`` / ``ascend_resolver`` for every node
but an alias (depth and count, while the file is composed), ``construct_object`` (an alias is
a node constructed a second time) and ``construct_mapping`` (duplicate keys).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

from hlhbayes.quoting import cut_line, field_label, quoted

MAX_DEPTH = 16
"""Deepest nesting accepted (a study file needs 4: file, strata, stratum, etiology)."""
MAX_NODES = 50_000
"""Most values accepted in one file (the largest study file has a few hundred)."""

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)
"""What a study file holds: plain values (no sets, binary, ordered maps or Python objects)."""
_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlInputError(Exception):
    """A study file's YAML refused: where (line, key) and why."""

    def __init__(self, line: int | None, field: str, message: str) -> None:
        self.line = line
        self.field = field
        self.message = message
        super().__init__(message)

    @property
    def row(self) -> str:
        """``line N`` (1-based), or empty when the place is unknown."""
        return f"line {self.line}" if self.line is not None else ""


def _line(node_or_mark: Any) -> int | None:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return None if mark is None else mark.line + 1


class _Rules:
    """The rules, as overrides of PyYAML's Python-level hooks (mixed into either loader)."""

    yaml_implicit_resolvers = _RESOLVERS

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        self._depth = 0
        self._nodes = 0

    def descend_resolver(self, parent: yaml.Node | None, index: object) -> None:
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            raise YamlInputError(_line(parent), "", f"nested deeper than {MAX_DEPTH} levels")
        if self._nodes > MAX_NODES:
            raise YamlInputError(_line(parent), "", f"more than {MAX_NODES} values in one file")
        super().descend_resolver(parent, index)  # type: ignore[misc]

    def ascend_resolver(self) -> None:
        self._depth -= 1
        super().ascend_resolver()  # type: ignore[misc]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.tag not in _PLAIN_TAGS:
            raise YamlInputError(
                _line(node), "", f"the tag {quoted(node.tag)} is not used in study files"
            )
        if node in self.constructed_objects or node in self.recursive_objects:  # type: ignore[attr-defined]
            raise YamlInputError(
                _line(node),
                "",
                "the value anchored here (&) is repeated by an alias (*): aliases are not "
                "allowed; write the value out",
            )
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except (ValueError, OverflowError) as exc:
            raise YamlInputError(
                _line(node),
                "",
                f"{quoted(node.value)} is not a valid {_tag(node)}: {cut_line(str(exc), 100)}",
            ) from None

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise YamlInputError(_line(node), "", f"expected a mapping, found a {node.id}")
        mapping: dict[Any, Any] = {}
        first_line: dict[Any, int | None] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise YamlInputError(_line(key_node), "", "merge keys (<<) are not allowed")
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise YamlInputError(
                    _line(key_node), "", f"a key must be a plain value, got {quoted(key)}"
                )
            if key in mapping:
                raise YamlInputError(
                    _line(key_node),
                    field_label(key),
                    f"key given twice (first on line {first_line[key]})",
                )
            try:
                mapping[key] = self.construct_object(value_node, deep=deep)
            except YamlInputError as exc:
                exc.field = exc.field or field_label(key)
                raise
            first_line[key] = _line(key_node)
        return mapping


def _tag(node: yaml.Node) -> str:
    return str(node.tag).rsplit(":", 1)[-1]


class PythonStudyLoader(_Rules, yaml.SafeLoader):
    """The rules on PyYAML's pure-Python safe loader."""


if yaml.__with_libyaml__:

    class CStudyLoader(_Rules, yaml.CSafeLoader):
        """The rules on libyaml's safe loader (about ten times faster)."""

    StudyLoader: type = CStudyLoader
else:  # pragma: no cover - PyYAML built without libyaml
    StudyLoader = PythonStudyLoader


def load_yaml(text: str, loader: type = StudyLoader) -> Any:
    """Parse one YAML document with the rules above; :class:`YamlInputError` if refused."""
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlInputError(_line(mark), "", f"not valid YAML: {cut_line(problem)}") from None
