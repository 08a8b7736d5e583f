"""Import a taxonomy in the shape of MadeWithML's tags.json as a readable YAML labels file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from lfkit.errors import DataError, FileProblem, quoted
from lfkit.files import read_limited

MAX_TAXONOMY_BYTES = 64 << 20


def read_taxonomy(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """Read `{tag: {"aliases": [...], "parents": [...]}}` from a JSON file.

    Raises
    ------
    DataError
        When the file cannot be read or is not in that shape.
    """
    path = Path(path)
    try:
        data = json.loads(read_limited(path, MAX_TAXONOMY_BYTES).decode("utf-8-sig"))
    except FileProblem as err:
        raise DataError(
            f"cannot read a JSON taxonomy ({err.problem})", err.hint, where=f"{path}"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read a JSON taxonomy ({err})", where=str(path)) from None
    except RecursionError:
        where = str(path)
        raise DataError("cannot read a JSON taxonomy (nested too deeply)", where=where) from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object of tag -> {aliases, parents}", where=str(path))
    taxonomy = {}
    for tag, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise DataError(
                "expected an object with aliases and parents", where=f"{path}: tag '{tag}'"
            )
        taxonomy[tag] = {
            key: _strings(path, tag, key, entry.get(key)) for key in ("aliases", "parents")
        }
    return taxonomy


def _strings(path: Path, tag: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DataError(f"'{key}' must be a list of strings", where=f"{path}: tag '{tag}'")
    return value


def taxonomy_yaml(taxonomy: dict[str, dict[str, list[str]]], source: str = "") -> str:
    """Render a taxonomy as the 'labels:' section of a rules file, one label per block.

    Names that YAML would read as something else (`yes`, `1.5`, `a: b`, `x, y` in a list)
    are quoted; parents that are not tags of the taxonomy become labels of their own
    (`match_name: false`), so that the file loads as it is (see `check_taxonomy`).

    Examples
    --------
    >>> print(taxonomy_yaml({"qa": {"aliases": ["question answering", "yes"], "parents": []}}))
    labels:
      qa:
        aliases: [question answering, "yes"]
    <BLANKLINE>
    """
    lines = [f"# Imported from {_comment(source)}; edit freely." if source else "", "labels:"]
    for tag in taxonomy:
        entry = {key: value for key, value in taxonomy[tag].items() if value}
        lines.append(f"  {_scalar(tag)}:" + ("" if entry else " {}"))
        for key, values in entry.items():
            lines.append(f"    {key}: [{', '.join(_scalar(value) for value in values)}]")
    missing = missing_parents(taxonomy)
    if missing:
        lines.append("  # named as parents above but not tags of the taxonomy:")
    lines += [f"  {_scalar(parent)}: {{match_name: false}}" for parent in missing]
    return "\n".join(line for line in lines if line) + "\n"


def missing_parents(taxonomy: dict[str, dict[str, list[str]]]) -> list[str]:
    """Return the parents named in a taxonomy that are not tags of it, in order."""
    parents = (parent for entry in taxonomy.values() for parent in entry["parents"])
    return [parent for parent in dict.fromkeys(parents) if parent not in taxonomy]


def check_taxonomy(text: str, source: str) -> None:
    """Load YAML written by `taxonomy_yaml` the way `lfkit check` will, so that an import never
    writes a file that check then rejects (parent loops, an alias of two tags, no word).

    Raises
    ------
    DataError
        Naming each tag of `source` at fault and what is wrong with it.
    """
    import tempfile

    from lfkit.errors import RuleFileError
    from lfkit.rules.loader import load_rules

    with tempfile.TemporaryDirectory(prefix="lfkit-taxonomy-") as folder:
        Path(folder, "task.yaml").write_text(
            "task: {kind: multilabel, text_columns: [text], label_column: tags}\n", "utf-8"
        )
        Path(folder, "labels.yaml").write_text(text, "utf-8")
        try:
            load_rules(folder)
        except RuleFileError as err:
            problems = [
                (f"tag {quoted(error.rule)}: " if error.rule else "") + error.problem
                for error in err.errors
            ]
            raise DataError(
                f"the labels file would fail 'lfkit check': {'; '.join(problems[:10])}"
                + ("; ..." if len(problems) > 10 else ""),
                "fix them in the taxonomy and import it again",
                where=source,
            ) from None


_PLAIN = re.compile(r"[^\W_][\w .()/+-]*", re.UNICODE)
# What PyYAML reads raw inside double quotes (its printable set, minus line breaks and quotes)
_RAW = re.compile(
    r"[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


def _scalar(text: str) -> str:
    """Return text as a YAML scalar that reads back as this very string, as a key or in a list.

    Plain when that is unambiguous (checked with the YAML parser itself), else double-quoted
    with escapes for what YAML would fold or refuse (control characters, line separators).
    """
    if _PLAIN.fullmatch(text) and text == text.strip():
        try:
            if yaml.safe_load(f"{text}: [{text}]") == {text: [text]}:
                return text
        except yaml.YAMLError:
            pass
    return '"' + "".join(_escape(char) for char in text) + '"'


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if _RAW.fullmatch(char):
        return char
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _comment(text: str) -> str:
    return "".join(char if char.isprintable() else "?" for char in text)
