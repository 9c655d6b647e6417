"""Events of the accounts app. ``archive`` listens and records them in the ledger
(accounts sits below archive and never imports it)."""

from django.dispatch import Signal

# sender=PublicKey, key=PublicKey, actor=User; sent inside the registering transaction
public_key_registered = Signal()
public_key_revoked = Signal()
# sender=PublicKey, key=PublicKey, actor=User; a CA certificate was attached to the key
public_key_certified = Signal()
