"""The bidder's (and, at the opening, the custodian's) command-line client ``etender`` (docs/cli.md).

Framework-free: nothing here imports Django, so the client runs on a
bidder's machine against a remote platform with only the project's
standard dependencies (``cryptography``, ``rfc8785``, ``asn1crypto``). It
talks to the platform's JSON API over HTTP(S) with the standard library, seals
with :mod:`tendering.sealing` and verifies receipts offline with
:mod:`archive.verify`.

Modules: ``transport`` (HTTP and the API's errors), ``config`` (the client's
folder, token, pinned trust anchors), ``keys`` (P-256 keys encrypted at rest),
``prices`` (the price summary from options or a file), ``progress`` (the
progress bar), ``upload`` (resumable part-by-part submission), ``opening``
(file keys and custodians' parts opened here at the opening), ``cli`` (the
commands).
"""
