"""Write measured metrics into a pack directory's manifest and model card (through ``export.pack_writer``)."""

from __future__ import annotations

import json
from typing import Any

from edge.errors import ConfigError
from edge.pack import Pack
from export.pack_writer import write_pack


def merge_metrics(existing: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``existing`` with every metric of the same name replaced by its entry in ``new``; new names appended."""
    replaced = {metric["name"] for metric in new}
    return [metric for metric in existing if metric.get("name") not in replaced] + list(new)


def write_metrics_into_pack(
    pack: Pack, metrics: list[dict[str, Any]], provenance: dict[str, Any] | None = None
) -> Pack:
    """Rewrite ``pack``'s manifest.json and README.md with ``metrics`` merged in (and ``provenance`` entries, e.g.
    the evaluation data, added); return the reloaded pack.

    Only a pack directory can be updated (a .zip is read from a temporary extraction): a ConfigError says so.
    """
    if pack.source.endswith(".zip"):
        raise ConfigError(
            f"{pack.source}: metrics can only be written into a pack directory, not a .zip "
            f"(unzip it, evaluate the directory, zip it again)"
        )
    manifest = json.loads((pack.root / "manifest.json").read_text())
    return write_pack(
        pack.root,
        manifest["name"],
        manifest["version"],
        manifest.get("description", ""),
        manifest["models"],
        merge_metrics(manifest.get("metrics", []), metrics),
        {**manifest.get("provenance", {}), **(provenance or {})},
        manifest.get("license", "unspecified"),
    )
