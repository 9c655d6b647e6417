"""The online opening (不见面开标): the hall, keys, custodians' parts, the opening record.

The order of an opening:

1. At the opening time the hall opens (``ensure_opening``): the bids that
   stood at the deadline are listed, bidders named. Participants sign in.
2. Keys. Each bidder may release its bid's file key within the decryption
   window (``release_key``); the tender's custodians submit their parts of
   every bid's key in one action (``submit_custodian_parts``). As soon as all
   members of a k-subset have submitted for a bid, their parts are combined;
   a key is used only if it matches the manifest's key commitment. A bid with
   a key is decrypted by the worker (``tendering.services.decryption``).
3. The tenderer concludes the decryption once the window has passed or every
   bid has its key (``conclude_decryption``): a bid still without a key counts
   as revoked (the bidder did not release it).
4. When every bid has ended in one state (opened, revoked, failed), the opening
   record (开标记录表) is published and bidders confirm it or object within the
   confirmation window; the tenderer answers objections.
5. The tenderer closes the opening (``close_opening``); the record is rendered
   as a signed PDF by the worker and filed.

Every change is recorded in the ledger and announced in the hall after commit.
No private key of a bidder or custodian ever reaches the platform: only the
file keys and parts they opened on their own devices, after the opening time.

The modules, one verb each (Zulip's ``zerver/actions`` is the model); import the one you need, this package
re-exports nothing. Lowest first: a module imports only those above it in this list.

- ``key_seals``: the file keys and custodians' parts kept at rest, sealed under the data key;
- ``payloads``: what the hall and the ledger say of each row (event and snapshot shapes);
- ``admission``: who may enter, the opening made at its first use, its lock, signing in;
- ``bid_key_ready``, ``bid_ended``, ``bid_retried``: every state change of a bid, one module each
  (decrypting and opened are the worker's: ``tendering.services.decryption``);
- ``record_published``: the record published once every bid has ended;
- ``keys``: the bidder releases its key; ``custodian_parts``: the custodians submit their parts;
- ``conclusion``: concluding the decryption and closing the opening;
- ``confirmations``: confirmations of and objections to the record;
- ``views``: what a participant reads (snapshot, manifests, filed record).
"""
