"""The other participants' devices in the demo's opening (``manage.py play_demo``).

A visitor acts in the browser as one bidder (``bidder1``) or one custodian
(``custodian1``) of the demo tender at its opening; this plays everybody else,
as their own devices would: through the platform's HTTP API (so the hall's
events start in the server and reach the visitor's page live), with the demo
users' private keys from var/demo-keys, opened here and never sent. In order,
a few seconds apart:

1. the other bidders, custodians and the regulator sign in to the hall (签到);
2. ``bidder2`` opens its own bid's envelope and releases the file key;
3. ``custodian2`` and ``custodian3`` open their parts of every bid and submit them
   (k = 2: together they give every bid's key, ``bidder3``'s included, which its
   bidder never releases);
4. once the worker has decrypted every bid (``manage.py db_worker``, which
   ``make run`` starts), and a manager has concluded the decryption (the visitor
   as ``tenderer``, or this with ``--everyone``), the other bidders confirm the record.

With ``--everyone`` it plays the visitor's parts too (``bidder1`` releases its
key, ``custodian1`` submits its parts, ``tenderer`` concludes and closes), so the
opening runs to its end unattended.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.models import KeyPurpose, User
from accounts.services import issue_api_token
from config import clock
from frontend.demo import demo_key
from tendering.client.opening import bidder_file_key, custodian_parts, fingerprint_of, hall_bids
from tendering.client.transport import ApiError, HttpTransport
from tendering.models import Tender

VISITOR_BIDDER = "bidder1"
VISITOR_CUSTODIAN = "custodian1"
FINAL_STATES = {"opened", "revoked", "failed"}


@dataclass
class DemoDevices:
    """One API client per demo user, each with an API token of its own (valid for a day)."""

    base_url: str
    tender: Tender
    pause: float = 3.0
    say: Callable[[str], None] = print
    clients: dict[str, HttpTransport] = field(default_factory=dict)

    @property
    def hall(self) -> str:
        return f"/api/tenders/{self.tender.public_id}/opening"

    def client(self, username: str) -> HttpTransport:
        if username not in self.clients:
            token, _ = issue_api_token(User.objects.get(username=username), "demo device (play_demo)", ttl_days=1)
            self.clients[username] = HttpTransport(self.base_url, token)
        return self.clients[username]

    def act(self, username: str, what: str, method: str, path: str, body: Any = None) -> Any:
        """One request of one device; a refusal is said and the play goes on (the visitor may have done it)."""
        try:
            data = self.client(username).request(method, self.hall + path, json_body=body).data
        except ApiError as exc:
            self.say(f"  {username}: {what}: refused ({exc.code}: {exc.message})")
            return None
        self.say(f"  {username}: {what}")
        time.sleep(self.pause)
        return data

    def close(self) -> None:
        for transport in self.clients.values():
            transport.close()

    def snapshot(self) -> dict[str, Any]:
        return dict(self.client("tenderer").request("GET", self.hall).data)

    def sign_in(self, username: str) -> None:
        self.act(username, "signed in to the hall", "POST", "/sign-in")

    def release_key(self, username: str) -> None:
        """The bidder's device opens its own bid's envelope with its encryption key and sends the file key."""
        private = demo_key(username, KeyPurpose.ENCRYPTION)
        manifests = self.client(username).request("GET", self.hall + "/manifests").data
        mine = fingerprint_of(private)
        for bid in hall_bids(manifests, str(self.tender.public_id)):
            if bid.manifest.envelopes.bidder.recipient != mine:
                continue
            file_key = base64.b64encode(bidder_file_key(bid, private)).decode("ascii")
            self.act(
                username,
                f"released the key of bid {bid.position}",
                "POST",
                f"/bids/{bid.bid}/key",
                {"file_key": file_key},
            )

    def submit_parts(self, username: str) -> None:
        """The custodian's device opens its part of every subset of every bid and submits them in one action."""
        manifests = self.client(username).request("GET", self.hall + "/manifests").data
        bids = hall_bids(manifests, str(self.tender.public_id))
        opened = custodian_parts(
            bids, demo_key(username, KeyPurpose.ENCRYPTION), lambda: demo_key(username, KeyPurpose.SIGNING)
        )
        body = {"parts": opened.parts, "refusals": opened.refusals}
        self.act(username, f"submitted {len(opened.parts)} parts of {len(bids)} bids", "POST", "/custodian-parts", body)

    def wait_for(self, what: str, ready: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Polls the hall until ``ready``; says so and gives up after ``timeout`` seconds."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if ready(self.snapshot()):
                return True
            time.sleep(1)
        self.say(f"  (waited {timeout:.0f} s for {what}: not yet)")
        return False


def play(
    base_url: str,
    tender: Tender,
    *,
    pause: float = 3.0,
    everyone: bool = False,
    wait: float = 300.0,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Play the demo opening's other devices against the platform at ``base_url``; return the hall's last snapshot."""
    devices = DemoDevices(base_url, tender, pause, say)
    try:
        return _play(devices, everyone=everyone, wait=wait)
    finally:
        devices.close()


def _play(devices: DemoDevices, *, everyone: bool, wait: float) -> dict[str, Any]:
    tender, say = devices.tender, devices.say
    left = (tender.opening_time - clock.now()).total_seconds()
    if left > 0:
        say(f"Waiting {left:.0f} s for the opening time …")
        time.sleep(left)
    page = f"{devices.base_url}/tenders/{tender.public_id}/opening/"
    say(f"Playing the demo devices in the hall of {tender.number} ({page}):")
    people = ["bidder2", "bidder3", "custodian2", "custodian3", "regulator"]
    if everyone:
        people = ["tenderer", VISITOR_BIDDER, VISITOR_CUSTODIAN, *people]
    for username in people:
        devices.sign_in(username)
    devices.release_key("bidder2")
    if everyone:
        devices.release_key(VISITOR_BIDDER)
        devices.submit_parts(VISITOR_CUSTODIAN)
    devices.submit_parts("custodian2")
    devices.submit_parts("custodian3")

    def all_final(hall: dict[str, Any]) -> bool:
        return all(b["state"] in FINAL_STATES for b in hall["bids"])

    if not devices.wait_for("the worker to decrypt every bid (is manage.py db_worker running?)", all_final, wait):
        return devices.snapshot()
    if everyone:
        devices.act("tenderer", "concluded the decryption", "POST", "/conclude")
    elif devices.snapshot()["moments"]["decryption_concluded_at"] is None:
        say("  every bid is decrypted: sign in as tenderer and end the decryption (结束解密) to publish the record")
    if not devices.wait_for(
        "the record to be published", lambda hall: hall["moments"]["record_published_at"] is not None, wait
    ):
        return devices.snapshot()
    for username in ("bidder2", "bidder3", *([VISITOR_BIDDER] if everyone else [])):
        devices.act(username, "confirmed the opening record", "POST", "/record/confirm")
    if everyone:
        devices.act("tenderer", "closed the opening", "POST", "/close")
    return devices.snapshot()
