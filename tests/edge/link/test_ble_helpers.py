"""The pure parts of ``ble://``: MTU chunking, name-or-address targets, URL options, the missing-extra error."""

from __future__ import annotations

import sys
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import ConfigError, MissingExtraError
from edge.link.ble import BleTransport, chunk, is_address
from edge.output_url import known_schemes
from edge.outputs import open_output


@given(st.binary(max_size=600), st.integers(min_value=1, max_value=512))
def test_chunks_are_in_order_and_never_exceed_the_mtu(data: bytes, max_bytes: int) -> None:
    pieces = chunk(data, max_bytes)
    assert b"".join(pieces) == data
    assert all(1 <= len(piece) <= max_bytes for piece in pieces)
    assert len(pieces) == -(-len(data) // max_bytes)


def test_chunk_refuses_a_zero_mtu() -> None:
    with pytest.raises(ValueError, match="max_bytes must be >= 1"):
        chunk(b"abc", 0)


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("C0:FF:EE:00:00:01", True),
        ("c0:ff:ee:00:00:01", True),
        ("3F2504E0-4F89-11D3-9A0C-0305E82C3301", True),  # macOS CoreBluetooth identifier
        ("SENSE-VEST", False),
        ("C0:FF:EE:00:00", False),
        ("C0-FF-EE-00-00-01", False),
    ],
)
def test_targets_are_addresses_or_names(target: str, address: bool) -> None:
    assert is_address(target) is address


def test_ble_is_a_known_output_scheme() -> None:
    assert "ble" in known_schemes()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ble://", "no device given"),
        ("ble://SENSE-VEST?scan_s=0", "must be > 0"),
        ("ble://SENSE-VEST?reconnect_min_s=2&reconnect_max_s=1", "reconnect_max_s >= reconnect_min_s"),
        ("ble://SENSE-VEST?scan_s=soon", "scan_s='soon' is not a number"),
    ],
)
def test_bad_urls_fail_before_touching_bluetooth(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_output(url)


def test_without_bleak_the_error_names_the_extra() -> None:
    with mock.patch.dict(sys.modules, {"bleak": None}):
        with pytest.raises(MissingExtraError, match=r"sense-edge\[ble\]"):
            BleTransport("SENSE-VEST")
