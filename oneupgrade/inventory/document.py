"""The inventory file as a YAML document: parsed once, every key's line remembered.

Every problem found in an inventory is an `InventoryError`, one line that names the
file, the line and the key path (`frontends[1].address`), so `Document.error` is how
both readers (native and one-deploy) report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from oneupgrade.errors import RunbookError

KeyPath = tuple[str | int, ...]


class InventoryError(RunbookError):
    """An inventory that cannot be used. `str()` is one line: file:line: key: problem; fix."""

    def __init__(self, file: str, line: int | None, key: str | None, problem: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        text = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        # One line, whatever a value contained.
        super().__init__(" ".join(text.split("\n")))
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem


class Tagged:
    """A value with a local tag (`!vault |...`): readable, never usable."""

    def __init__(self, tag: str, value: object) -> None:
        self.tag = tag
        self.value = value


class _Loader(yaml.SafeLoader):
    pass


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        value: object = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    if suffix == "unsafe":  # Ansible's "do not template" marker: the value itself
        return value
    return Tagged("!" + suffix, value)


_Loader.add_multi_constructor("!", _construct_tagged)


class Document:
    """A parsed YAML file and where each key is: errors name the line and key path."""

    def __init__(self, path: Path, raw: bytes, root: yaml.Node | None) -> None:
        self.path = path
        self.label = str(path)
        self.raw = raw
        self.lines: dict[KeyPath, int] = {}
        self.nodes: dict[KeyPath, yaml.Node] = {}
        self._seen: set[int] = set()
        if root is not None:
            self._index(root, ())

    def _index(self, node: yaml.Node, path: KeyPath) -> None:
        # Each node once: aliases share nodes (and could make the walk exponential).
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        self.nodes[path] = node
        if isinstance(node, yaml.MappingNode):
            self._index_mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[(*path, i)] = item.start_mark.line + 1
                self._index(item, (*path, i))

    def _index_mapping(self, node: yaml.MappingNode, path: KeyPath) -> None:
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first:
                raise self.error(
                    (*path, key),
                    f"duplicate key {key!r} (also at line {first[key]}); remove one of them",
                    line=line,
                )
            first[key] = line
            self.lines[(*path, key)] = line
            self._index(value_node, (*path, key))

    def line(self, path: KeyPath) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    def scalar_text(self, path: KeyPath) -> str | None:
        """The text as written (`6.10`, which YAML reads as the float 6.1)."""
        node = self.nodes.get(path)
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        return None

    def error(self, path: KeyPath, problem: str, *, line: int | None = None) -> InventoryError:
        return InventoryError(
            self.label, line if line is not None else self.line(path), key_path(path), problem
        )


def key_path(path: KeyPath) -> str:
    """`("frontends", 1, "address")` -> `frontends[1].address`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def describe(value: object) -> str:
    """What a YAML value is, for messages."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, Tagged):
        return f"a {value.tag} value"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def read_yaml(path: Path) -> tuple[Document, Any]:
    """The document and its data, a mapping; `InventoryError` for anything else."""
    label = str(path)
    raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryError(
            label, None, None, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    doc, data = _parse(path, raw, text)
    if data is None:
        raise InventoryError(
            label, 1, None, "the file is empty; see inventory/example.yml for what goes in it"
        )
    if not isinstance(data, dict):
        raise InventoryError(
            label,
            1,
            None,
            f"the top level is {describe(data)}, not a mapping of keys; "
            "see inventory/example.yml for the layout",
        )
    return doc, data


def _read_bytes(path: Path) -> bytes:
    label = str(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(
            label, None, None, "no such file; check the --inventory path"
        ) from None
    except IsADirectoryError:
        raise InventoryError(label, None, None, "is a directory; give the inventory file") from None
    except OSError as exc:
        raise InventoryError(label, None, None, f"cannot be read: {exc.strerror}") from None


def _parse(path: Path, raw: bytes, text: str) -> tuple[Document, Any]:
    label = str(path)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        # Index before constructing: construction flattens merge keys in place.
        doc = Document(path, raw, root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = f" (column {mark.column + 1})" if mark else ""
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise InventoryError(
            label, line, None, f"YAML syntax error: {what}{col}; fix the YAML at this line"
        ) from None
    except yaml.YAMLError as exc:
        raise InventoryError(label, None, None, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    return doc, data
