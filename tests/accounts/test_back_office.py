"""The Django admin is the back office: it validates like everything else and reads no secrets."""

import pytest
from django.test import Client

from accounts.models import Organization, User


@pytest.fixture
def admin_client(db):
    User.objects.create_superuser("root", "root@example.org", "Root-Password-2026")
    client = Client()
    client.login(username="root", password="Root-Password-2026")
    return client


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91350100M000100Y44", "wrong check character"),
        ("91350100M00010", "18 characters"),
        ("91350100M00010OY43", "not allowed"),
    ],
)
def test_the_back_office_refuses_a_malformed_credit_code(admin_client, code, message):
    response = admin_client.post(
        "/admin/accounts/organization/add/", {"name": "测试建设有限公司", "kind": "bidder", "credit_code": code}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Organization.objects.exists()


def test_the_back_office_registers_a_bidder_with_a_valid_code(admin_client):
    response = admin_client.post(
        "/admin/accounts/organization/add/",
        {"name": "测试建设有限公司", "kind": "bidder", "credit_code": "91350100m000100y43"},
    )
    assert response.status_code == 302
    assert Organization.objects.get().credit_code == "91350100M000100Y43"


def test_keys_and_tokens_are_read_only_in_the_back_office(admin_client):
    assert admin_client.get("/admin/accounts/publickey/add/").status_code == 403
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403
    assert admin_client.get("/admin/archive/ledgerentry/add/").status_code == 403
