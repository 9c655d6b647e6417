"""The custodian's confirmation page and what the sealing pages say about the browser: refused to anyone but the
tender's custodians, linked from their dashboard, and every sealing page names its limit and its bundle's hash."""

from __future__ import annotations

from django.urls import reverse

from frontend.deployment import record_deployment, served_bundle_sha256
from tests.frontend.conftest import signed_in
from tests.opening.test_hall_page import page_config


def test_only_the_tenders_custodians_get_the_confirmation_page(personas, unconfirmed_tender):
    url = reverse("frontend:custody-confirm", args=[unconfirmed_tender.public_id])
    for outsider in (personas.bidder_a, personas.tenderer, personas.expert):
        assert signed_in(outsider).get(url).status_code == 403
    # Signed out: to the sign-in page, nothing of the tender.
    anonymous = signed_in(personas.custodians[0])
    anonymous.logout()
    response = anonymous.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("frontend:login"))

    page = signed_in(personas.custodians[0]).get(url)
    assert page.status_code == 200
    config = page_config(page.text, "custody-config")
    assert config["user"] == "custodian1" and config["tender"] == str(unconfirmed_tender.public_id)
    assert config["urls"] == {
        "custody": f"/api/tenders/{unconfirmed_tender.public_id}/custody",
        "confirmation": f"/api/tenders/{unconfirmed_tender.public_id}/custody/confirmation",
    }
    assert config["messages"]["position_value"] == "第 %(position)s 位（共 %(n)s 位），开启门限 %(k)s"


def test_a_confirmed_slot_shows_as_confirmed_on_the_dashboard(personas, published_tender):
    dashboard = signed_in(personas.custodians[0]).get(reverse("frontend:dashboard")).text
    url = reverse("frontend:custody-confirm", args=[published_tender.public_id])
    assert f'href="{url}">保管确认（已确认）</a>' in dashboard


def test_an_unconfirmed_slot_is_offered_for_signing_on_the_dashboard(personas, unconfirmed_tender):
    dashboard = signed_in(personas.custodians[0]).get(reverse("frontend:dashboard")).text
    url = reverse("frontend:custody-confirm", args=[unconfirmed_tender.public_id])
    assert f'href="{url}">签名确认保管</a>' in dashboard


def test_every_page_that_holds_keys_says_it_is_no_stronger_than_the_served_javascript(
    personas, published_tender, tmp_path
):
    bundle = served_bundle_sha256()

    def pages() -> list:
        return [
            signed_in(personas.bidder_a).get(reverse("frontend:bid-submit", args=[published_tender.public_id])),
            signed_in(personas.bidder_a).get(reverse("frontend:browser-keys")),
            signed_in(personas.custodians[0]).get(reverse("frontend:browser-keys")),
            signed_in(personas.custodians[0]).get(
                reverse("frontend:custody-confirm", args=[published_tender.public_id])
            ),
        ]

    # No deployment recorded yet: each page says it cannot be compared with the ledger.
    for page in pages():
        assert '<p id="bundle-ledger" data-recorded="false" class="form-errors">账本中还没有任何部署记录' in page.text
    _, entry = record_deployment(version="test")
    assert entry is not None
    for page in pages():
        assert f"与账本第 {entry.seq} 条记录的部署一致" in page.text and 'data-recorded="true"' in page.text
    # The ledger's last deployment is another bundle than the one these pages serve (changed outside a release).
    (tmp_path / "bid-page.js").write_bytes(b"// another bundle\n")
    record_deployment(version="elsewhere", directory=tmp_path)
    pages_now = pages()
    for page in pages_now:
        assert (
            f"与账本中最近记录的部署（第 {entry.seq + 1} 条）不一致" in page.text
            and 'data-recorded="false"' in page.text
        )
    for page in pages_now:
        assert page.status_code == 200
        assert "浏览器中的这些核验不会比平台发送的脚本更可靠" in page.text
        assert "命令行客户端（etender）" in page.text
        assert f'<code class="fingerprint" id="bundle-sha256">{bundle or "（未构建）"}</code>' in page.text
    english = signed_in(personas.bidder_a)
    english.cookies["django_language"] = "en"
    page = english.get(reverse("frontend:bid-submit", args=[published_tender.public_id])).text
    assert "these checks are no stronger than the script the platform sends" in page
    assert (
        page_config(page, "bid-config")["messages"]["custody_refused"]
        == "Cannot seal: custodian %(name)s (%(username)s) %(reason)s."
    )
