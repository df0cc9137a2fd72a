"""The host side of the SENSE link protocol (firmware/PROTOCOL.md): codec, session, transports.

``codec`` is pure (bytes in, messages out); ``session`` runs the handshake/auth over any byte transport;
``transports`` opens ``serial://`` and ``loop://`` links and the ``spy://`` wrapper.
"""
