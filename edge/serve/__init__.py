"""``sense serve``: the running pipeline with a local control page and a JSON/WebSocket API.

Only :mod:`edge.serve.app` and :mod:`edge.serve.server` need the ``serve`` extra (Starlette, uvicorn); the
pairing (:mod:`edge.serve.pairing`) and the command-line client (:mod:`edge.serve.client`, ``sense status`` /
``sense set``) are standard library only. Importing ``edge`` or this package imports neither.
"""
