"""One check for every format's bad-file tests: a document with one field broken fails naming the file and field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.errors import HapticFileError
from edge.haptic_files import read_track


def assert_names_the_field(path: Path, document: Any, change: Callable[[Any], Any], field: str) -> None:
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(HapticFileError) as caught:
        read_track(path)
    assert field in str(caught.value) and path.name in str(caught.value)
