"""Read a config file: YAML, `${NAME}` environment references, schema validation.

Every problem is reported as `FILE: PATH (line N): reason`, all of them at once,
so a person fixes a file in one go. Secrets (`secret`, `callback_token`,
`encoding_aes_key`, `api_key`) written as exactly `${NAME}` with NAME unset become
UnsetVar — "keep what is stored" — instead of an error; apply decides whether
that is allowed (not for a new connection). `$$` writes a literal `$`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kefu.config.schema import SCHEMA_VERSION, KefuConfig
from kefu.db.base import unstorable_char
from kefu.errors import Invalid
from kefu.schema_types import PathKey, Problem, UnsetVar, format_path, line_of, problem_of

SECRET_KEYS = frozenset({"secret", "callback_token", "encoding_aes_key", "api_key"})
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _TextDatesLoader(yaml.SafeLoader):
    """YAML's own date parsing raises a bare ValueError for 2026-02-30 (a traceback, no line):
    dates stay text here and the schema parses them, as a problem with its line and path."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ConfigFileError(Invalid):
    """The file is not a valid config; nothing was changed."""

    code = "invalid_config"

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """`FILE:LINE: PATH: reason` (the form editors and terminals link to the line)."""
        out = []
        for p in self.problems:
            head = f"{self.file}:{p.line}" if p.line else self.file
            out.append(f"{head}: {p.path}: {p.reason}" if p.path else f"{head}: {p.reason}")
        return out


@dataclass(frozen=True)
class LoadedConfig:
    file: str
    config: KefuConfig
    base_dir: Path  # relative paths in the file (avatar, knowledge_base) start here
    lines: dict[PathKey, int]

    def problem(self, path: PathKey, reason: str) -> Problem:
        """A problem found after validation (e.g. against the database), located in the file."""
        return Problem(format_path(path), line_of(path, self.lines), reason)


def load_config(file: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    path = Path(file)
    name = str(file)
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigFileError(name, [Problem("", None, "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(name, [Problem("", None, f"cannot read it as UTF-8 text: {exc}")]) from exc
    data, lines = _parse_yaml(name, text)
    problems: list[Problem] = []
    data = _substitute(data, (), env, lines, problems)
    if problems:
        raise ConfigFileError(name, problems)
    if data.get("version") != SCHEMA_VERSION:  # alone: the rest of another version's file means other things
        raise ConfigFileError(name, [_version_problem(data, lines)])
    try:
        config = KefuConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(name, [problem_of(err, lines) for err in exc.errors()]) from exc
    problems = _duplicates(config, lines)
    if problems:
        raise ConfigFileError(name, problems)
    return LoadedConfig(file=name, config=config, base_dir=path.parent, lines=lines)


def _version_problem(data: dict[str, Any], lines: dict[PathKey, int]) -> Problem:
    if "version" not in data:
        return Problem(
            "version", 1, f"required key is missing; the file starts with `version: {SCHEMA_VERSION}`"
        )
    reason = (
        f"must be {SCHEMA_VERSION} (this Kefu reads schema version {SCHEMA_VERSION}), got {data['version']!r}"
    )
    return Problem("version", lines.get(("version",)), reason)


def _parse_yaml(name: str, text: str) -> tuple[dict[str, Any], dict[PathKey, int]]:
    loader = _TextDatesLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigFileError(name, [Problem("", None, "the file is empty; it starts with `version: 1`")])
        lines: dict[PathKey, int] = {}
        problems: list[Problem] = []
        _walk_nodes(node, (), lines, problems)
        if problems:
            raise ConfigFileError(name, problems)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigFileError(name, [Problem("", mark.line + 1 if mark else None, reason)]) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigFileError(
            name, [Problem("", 1, "the top level must be a mapping (version:, connections:, …)")]
        )
    return data, lines


def _walk_nodes(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], problems: list[Problem]) -> None:
    """Record the line of every key and item; report duplicate keys (YAML would keep the last silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = _joined_pairs(str(key_node.value))
            child = (*path, key)
            if key in seen:
                problems.append(Problem(format_path(child), key_node.start_mark.line + 1, "duplicate key"))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk_nodes(value_node, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk_nodes(item, (*path, index), lines, problems)


def _substitute(
    value: Any, path: PathKey, env: Mapping[str, str], lines: dict[PathKey, int], problems: list[Problem]
) -> Any:
    if isinstance(value, dict):
        value = {_joined_pairs(k) if isinstance(k, str) else k: v for k, v in value.items()}
        for key in value:  # a key is stored too (ai.synonyms' terms, custom fields)
            _refuse_unstorable(key, (*path, str(key)), lines, problems)
        return {k: _substitute(v, (*path, str(k)), env, lines, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), env, lines, problems) for i, v in enumerate(value)]
    if isinstance(value, str):
        value = _joined_pairs(value)
    if _refuse_unstorable(value, path, lines, problems):
        return value
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole and whole[1] and whole[1] not in env and path and path[-1] in SECRET_KEYS:
        return UnsetVar(whole[1])
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        if match[1] not in env:
            missing.append(match[1])
            return match[0]
        return env[match[1]]

    result = _REFERENCE.sub(replace, value)
    for var in missing:
        problems.append(
            Problem(format_path(path), line_of(path, lines), f"environment variable {var} is not set")
        )
    return result


def _joined_pairs(text: str) -> str:
    """PyYAML reads "\\ud83d\\ude00" (JSON's escape of 😀, and YAML reads JSON) as two lone
    surrogates: joined here into the one character JSON means. A surrogate left alone stays,
    for _refuse_unstorable."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


def _refuse_unstorable(value: Any, path: PathKey, lines: dict[PathKey, int], problems: list[Problem]) -> bool:
    """YAML's "\\0" or "\\ud800" in a text (kefu.db.base.unstorable_char, the API's rule too):
    PostgreSQL refuses NUL, nothing can encode a lone surrogate, and the settings' JSON would
    send either to WeCom. Refused where it stands, as any bad value."""
    found = unstorable_char(value) if isinstance(value, str) else None
    if found is None:
        return False
    shown = _escaped(format_path(path))  # a key holding one: printed escaped, a terminal can't show it
    problems.append(Problem(shown, line_of(path, lines), f"holds {_named(found)}, which Kefu cannot store"))
    return True


def _named(char: str) -> str:
    return "NUL (\\0)" if char == "\x00" else f"an unpaired surrogate ({_escaped(char)})"


def _escaped(text: str) -> str:
    """NUL as \\0 and a lone surrogate as \\udXXX: what the file wrote, printable."""
    return "".join(
        "\\0" if c == "\x00" else f"\\u{ord(c):04x}" if "\ud800" <= c <= "\udfff" else c for c in text
    )


def _duplicates(config: KefuConfig, lines: dict[PathKey, int]) -> list[Problem]:
    """Names that must be unique in the file, reported at their second occurrence."""
    problems = []
    for section, keys in (
        ("connections", [c.name for c in config.connections]),
        ("accounts", [a.key for a in config.accounts]),
    ):
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first:
                path: PathKey = (section, index)
                reason = f"{key!r} is already named by {section}[{first[key]}]"
                problems.append(Problem(format_path(path), line_of(path, lines), reason))
            first.setdefault(key, index)
    return problems
