"""pytest plugin: run the tests as on a device install — torch and the rest of the export extra blocked.

``python -m pytest -p tests.device_install tests/edge`` (``make test`` does) proves that the runtime's test folder
needs only the runtime extras. Loaded before any test module, so an import of a blocked module fails loudly.
Runtime tests marked ``workstation`` (they check a path of the runtime that only exists when the export extra is
installed, e.g. ``onnx`` for user-sound embeddings) are deselected here; ``make test`` runs them with ``-m workstation``.
"""

from __future__ import annotations

import sys

import pytest

from tests.workstation import WORKSTATION_ONLY

for _name in WORKSTATION_ONLY:
    sys.modules[_name] = None  # type: ignore[assignment]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workstation = [item for item in items if item.get_closest_marker("workstation") is not None]
    if workstation:
        config.hook.pytest_deselected(items=workstation)
        items[:] = [item for item in items if item.get_closest_marker("workstation") is None]
