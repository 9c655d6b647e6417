"""One protocol for every live room: the opening hall now, the evaluation session next.

Framework-free parts (``codes``, ``protocol``) import neither Django nor Channels, so the
command-line client can use the error codes; ``groups``, ``publisher`` and ``consumer`` are the
server's. A room adds its commands, its event kinds (one typed model each), its handlers and its
snapshot on top (the hall: ``tendering.hall_protocol`` and ``tendering.consumers``).
See docs/opening.md §5 and docs/architecture.md, "Live rooms".
"""
