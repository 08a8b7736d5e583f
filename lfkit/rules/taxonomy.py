"""Import a taxonomy in the shape of MadeWithML's tags.json as a readable YAML labels file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lfkit.errors import DataError
from lfkit.files import FileProblem, read_limited

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
    except (FileProblem, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read a JSON taxonomy ({err})") from None
    except RecursionError:
        raise DataError(f"{path}: cannot read a JSON taxonomy (nested too deeply)") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of tag -> {{aliases, parents}}")
    taxonomy = {}
    for tag, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise DataError(f"{path}: tag '{tag}': expected an object with aliases and parents")
        taxonomy[tag] = {
            key: _strings(path, tag, key, entry.get(key)) for key in ("aliases", "parents")
        }
    return taxonomy


def _strings(path: Path, tag: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DataError(f"{path}: tag '{tag}': '{key}' must be a list of strings")
    return value


def taxonomy_yaml(taxonomy: dict[str, dict[str, list[str]]], source: str = "") -> str:
    """Render a taxonomy as the 'labels:' section of a rules file, one label per block.

    Examples
    --------
    >>> print(taxonomy_yaml({"qa": {"aliases": ["question answering"], "parents": []}}))
    labels:
      qa:
        aliases: [question answering]
    <BLANKLINE>
    """
    lines = [f"# Imported from {source}; edit freely." if source else "", "labels:"]
    for tag in taxonomy:
        entry = {key: value for key, value in taxonomy[tag].items() if value}
        lines.append(f"  {_scalar(tag)}:" + ("" if entry else " {}"))
        for key, values in entry.items():
            lines.append(f"    {key}: [{', '.join(_scalar(value) for value in values)}]")
    return "\n".join(line for line in lines if line) + "\n"


def _scalar(text: str) -> str:
    return yaml.safe_dump(text, default_flow_style=True, width=10_000).removesuffix("\n...\n")
