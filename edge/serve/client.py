"""The command-line client of a running ``sense serve`` (``sense status``, ``sense set``): the same HTTP API as the
page, standard library only. It finds the server and its token in the state file the server wrote, unless given."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from edge.errors import ConfigError

TIMEOUT_S = 10.0


def find_server(url: str | None = None, token: str | None = None) -> tuple[str, str]:
    """(base URL, token): the ones given, else those of the running ``sense serve`` (its state file)."""
    if url is not None and token is not None:
        return url.rstrip("/"), token
    from edge.serve.server import state_file

    path = state_file()
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no sense serve is running here ({path} is absent); start one with `sense serve`, or give "
            "--url and --token"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the running server's URL and token: {error}") from None
    return (url or state["url"]).rstrip("/"), token or state["token"]


def call(url: str, token: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET ``path`` (or POST ``body`` as JSON) with the token; the server's one-line error becomes a ConfigError."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}{path}",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("error", error.reason)
        except (ValueError, AttributeError):
            message = error.reason
        raise ConfigError(f"sense serve at {url}: {message}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ConfigError(f"sense serve at {url}: no answer ({reason}); is it running?") from None


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["mode=beat", "master=0.6", "group_gains.kick=0.5", "preset_lock=null"]`` -> the JSON body of
    ``/api/set``. A value is read as JSON when it is JSON (numbers, true/false, null, objects), else as text."""
    values: dict[str, Any] = {}
    for assignment in assignments:
        name, separator, text = assignment.partition("=")
        if not separator or not name:
            raise ConfigError(f"sense set {assignment!r}: expected NAME=VALUE, e.g. mode=beat or group_gains.kick=0.5")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if "." in name:
            table, _, key = name.partition(".")
            values.setdefault(table, {})[key] = value
        else:
            values[name] = value
    return values
