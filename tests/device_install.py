"""pytest plugin: run the tests as on a device install — torch and the rest of the export extra blocked.

``python -m pytest -p tests.device_install tests/edge`` (``make test`` does) proves that the runtime's test folder
needs only the runtime extras. Loaded before any test module, so an import of a blocked module fails loudly.
Every runtime test runs here: the runtime has no path that only exists when the export extra is installed.
"""

from __future__ import annotations

import sys

from tests.workstation import WORKSTATION_ONLY

for _name in WORKSTATION_ONLY:
    sys.modules[_name] = None  # type: ignore[assignment]
