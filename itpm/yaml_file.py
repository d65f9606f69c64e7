"""Reading YAML files that people write (project files, inventories): errors point at line and column.

The files may come from anyone who can open a merge request, so reading one must never run code, hang, or
quietly mean something else than it says:

- tags that build Python objects (``!!python/object``) are refused (PyYAML's safe loader);
- a key given twice is an error: YAML keeps the last one silently, so ``max_fail_percent`` written twice would
  mean whatever the second one says;
- aliases that expand to a huge document (a "billion laughs": ten aliases of ten aliases of ...) are refused
  before anything walks the expanded data, as are aliases that contain themselves and very deep nesting;
- a value the YAML type cannot hold (``due: 2026-13-45``) is an error at its line, not a crash.

>>> read_yaml(Path("projects/baseline-rollout.yaml"), ProjectFileError, "project file")["name"]  # doctest: +SKIP
'baseline-rollout'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from itpm.errors import InputError

__all__ = ["MAX_ALIAS_GROWTH", "MAX_DEPTH", "read_yaml"]

# Values that aliases may add to a document beyond the ones written in it: this many, or ten per value written
# if that is more (an inventory of thousands of hosts that each merge `<<: *defaults`). Files people write reuse
# a few anchored blocks; a billion-laughs bomb of 30 written values adds billions.
MAX_ALIAS_GROWTH = 100_000
_ALIAS_GROWTH_PER_VALUE = 10
# Nesting levels of collections. The shipped files nest 6 deep; pydantic and Ansible recurse per level.
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
_SYNTAX_FIX = "fix the YAML syntax there (indentation, an unclosed bracket or quote)"
_TAG_FIX = "write plain YAML values: itpm files need no tags such as !!python/object or !!binary"
_TOO_DEEP = f"collections nest more than {MAX_DEPTH} levels deep here"
_FLATTEN = "flatten the structure; no itpm file needs that many levels"


class _Refused(yaml.MarkedYAMLError):
    """A document that is valid YAML but that itpm will not read; ``fix`` says what to change."""

    def __init__(self, problem: str, mark: yaml.Mark | None, fix: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.fix = fix


class _PeopleLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys and deep nesting, with bad typed scalars as marked errors."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    @contextlib.contextmanager
    def _one_level_deeper(self) -> Iterator[None]:
        # Counted while composing: PyYAML's scanner slows down quadratically with flow nesting (`[[[[...`) and
        # its composer recurses per level, so a deep document must be refused before either runs away.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                # current_event: the collection's start event, which compose_node has just looked at.
                raise _Refused(_TOO_DEEP, self.current_event.start_mark, fix=_FLATTEN)
            yield
        finally:
            self._depth -= 1

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:  # noqa: ANN401 - PyYAML's untyped anchor
        with self._one_level_deeper():
            return super().compose_sequence_node(anchor)

    def compose_mapping_node(self, anchor: Any) -> MappingNode:  # noqa: ANN401 - PyYAML's untyped anchor
        with self._one_level_deeper():
            return super().compose_mapping_node(anchor)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # `<<: *defaults` merges on purpose; keys written beside it win, as YAML says
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first_seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it with its position
            if earlier is not None:
                raise _Refused(
                    f"key {key!r} appears twice (first at line {earlier.start_mark.line + 1}); "
                    "YAML would silently keep only the last one",
                    key_node.start_mark,
                    fix="keep one of them",
                )
            first_seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Node, deep: bool = False) -> Any:  # noqa: ANN401 - YAML is any shape
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError) as problem:
            # PyYAML lets a few scalar constructors fail with plain Python errors (`2026-13-45`, `!!int x`).
            kind = node.tag.rsplit(":", 1)[-1]
            detail = f" ({problem})" if kind == "timestamp" and isinstance(problem, ValueError) else ""
            raise _Refused(
                f"{node.value!r} is not a valid {kind}{detail}",
                node.start_mark,
                fix="write a valid value there (dates as YYYY-MM-DD), or quote it to make it text",
            ) from None


def _ansible_tag(loader: yaml.SafeLoader, node: Node) -> str:
    """Read Ansible's ``!unsafe`` and ``!vault`` values as their text: an inventory may hold them."""
    return str(loader.construct_scalar(node)) if isinstance(node, yaml.ScalarNode) else ""


_PeopleLoader.add_constructor("!unsafe", _ansible_tag)
_PeopleLoader.add_constructor("!vault", _ansible_tag)


def read_yaml(path: Path, error: type[InputError], what: str) -> Any:  # noqa: ANN401 - YAML is any shape
    """Return the parsed contents of ``path``; raise ``error`` saying where the syntax breaks.

    ``what`` names the file's role in the message: ``inventory /x/hosts.yml is not valid YAML at line 3, ...``.
    An empty file is ``None``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as problem:
        raise error(
            f"{what} {path} is not UTF-8 text (byte {problem.start} is not valid)",
            fix="save it as UTF-8 text; a binary or other-encoded file cannot be a YAML file",
        ) from None
    except OSError as problem:
        raise error(f"{what} {path} cannot be read: {problem.strerror or problem}", fix="check the path") from None
    try:
        return _load(text)
    except _Refused as problem:
        raise error(f"{what} {path} at {_where(problem.problem_mark)}: {problem.problem}", fix=problem.fix) from None
    except yaml.reader.ReaderError as problem:  # a character YAML forbids, such as NUL or an escape code
        line = text[: problem.position].count("\n") + 1
        raise error(
            f"{what} {path} has a character YAML forbids (#x{problem.character:04x}) at line {line}",
            fix='remove it; inside double quotes, YAML can write such a character as an escape, like "\\x1b"',
        ) from None
    except ConstructorError as problem:  # a tag the safe loader will not build, an unhashable key
        raise error(
            f"{what} {path} at {_where(problem.problem_mark or problem.context_mark)}: {problem.problem}",
            fix=_constructor_fix(str(problem.problem)),
        ) from None
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        raise error(
            f"{what} {path} is not valid YAML at {_where(mark)}: {problem.problem or problem.context}",
            fix=_SYNTAX_FIX,
        ) from None
    except yaml.YAMLError as problem:
        raise error(f"{what} {path} is not valid YAML: {problem}", fix="fix the YAML syntax") from None


def _load(text: str) -> Any:  # noqa: ANN401 - YAML is any shape
    """Return the one document in ``text``; raise a YAMLError (``_Refused`` among them) where it cannot be read."""
    loader = _PeopleLoader(text)  # reads every character first: a forbidden one is a ReaderError here
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expansion(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _constructor_fix(problem: str) -> str:
    if "unhashable" in problem:
        return "write keys as plain text, not lists or mappings"
    if "merging" in problem:
        return "a merge key takes an alias of a mapping, like `<<: *defaults`"
    return _TAG_FIX


def _where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown position"


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: Node) -> None:
    """Raise _Refused when the document, with every alias expanded, is a bomb, contains itself or nests too deep.

    Aliases are references to one node, so the walk visits each node once and adds up what each would expand
    to: a billion-laughs document is measured in microseconds and never built.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values once expanded, nesting depth)
    ancestors: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, after_children = stack.pop()
        if after_children:
            kids = [measured[id(kid)] for kid in _children(node)]
            measured[id(node)] = (1 + sum(size for size, _ in kids), 1 + max((depth for _, depth in kids), default=0))
            ancestors.discard(id(node))
            continue
        if id(node) in measured:
            continue
        if id(node) in ancestors:
            raise _Refused(
                "an alias refers to the collection it is in, so it would expand forever",
                node.start_mark,
                fix="remove the alias from inside its own anchor",
            )
        ancestors.add(id(node))
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node))
        if len(ancestors) > MAX_DEPTH:  # aliases nest anchored collections deeper than the text shows
            raise _Refused(_TOO_DEEP, node.start_mark, fix=_FLATTEN)
    expanded, _ = measured[id(root)]
    written = len(measured)
    allowed = max(MAX_ALIAS_GROWTH, written * _ALIAS_GROWTH_PER_VALUE)
    if expanded - written > allowed:
        raise _Refused(
            f"its aliases expand it from {written} to {expanded} values (a 'billion laughs' document)",
            root.start_mark,
            fix=f"write the values out, or reuse anchors so that they add fewer than {allowed:,} values",
        )
