"""Presigned URLs hand out exactly one version's bytes, under a given name, for a limited time."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.test import Client

from archive.storage import FilesystemObjectStore, MinioObjectStore, ObjectStore, content_disposition
from config.clock import FrozenClock

FILENAME = "投标文件 第1标段.pdf"


def _download(store: ObjectStore, url: str, client: Client) -> tuple[int, bytes, dict[str, str]]:
    if isinstance(store, FilesystemObjectStore):
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
        return response.status_code, body, {k.lower(): v for k, v in response.headers.items()}
    assert urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"), url
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 (the test S3 server on loopback)
        return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}


def test_a_presigned_url_downloads_the_exact_bytes_under_the_given_filename(
    object_store: ObjectStore, client: Client
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    stored = object_store.put("downloads/bid.pdf", data, content_type="application/pdf")
    url = object_store.presigned_get_url(stored.key, filename=FILENAME)
    status, body, headers = _download(object_store, url, client)
    assert status == 200
    assert body == data
    assert headers["content-disposition"] == content_disposition(FILENAME)
    assert "filename*=UTF-8''%E6%8A%95%E6%A0%87" in headers["content-disposition"]
    assert headers["content-type"] == "application/pdf"


def test_a_presigned_url_for_a_version_keeps_serving_that_version(object_store: ObjectStore, client: Client) -> None:
    first = object_store.put("downloads/notice.txt", b"first")
    object_store.put("downloads/notice.txt", b"second")
    url = object_store.presigned_get_url(first.key, first.version_id)
    assert _download(object_store, url, client)[1] == b"first"


def test_the_content_disposition_has_an_ascii_fallback_and_a_utf8_filename() -> None:
    assert content_disposition("report.pdf") == 'attachment; filename="report.pdf"'
    assert content_disposition('评标"报告".pdf') == (
        "attachment; filename=\"______.pdf\"; filename*=UTF-8''%E8%AF%84%E6%A0%87%22%E6%8A%A5%E5%91%8A%22.pdf"
    )
    assert content_disposition("../../etc/passwd") == 'attachment; filename=".._.._etc_passwd"'
    assert content_disposition(None) == "attachment"


def test_a_tampered_filesystem_url_is_refused_with_403(fs_store: FilesystemObjectStore, client: Client) -> None:
    stored = fs_store.put("downloads/secret.bin", b"secret")
    url = fs_store.presigned_get_url(stored.key)
    token = url.rstrip("/").rsplit("/", 1)[1]
    forged = fs_store.presigned_get_url("downloads/other.bin")  # a valid token for another key
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), token.replace(":", ":x", 1)):
        response = client.get(url.replace(token, bad), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 403
        assert b"invalid" in response.content
    assert client.get(forged).status_code == 404  # valid link, but no such object


def test_an_expired_filesystem_url_is_refused_with_403(
    fs_store: FilesystemObjectStore, client: Client, frozen_clock: FrozenClock
) -> None:
    stored = fs_store.put("downloads/expiring.bin", b"soon gone")
    url = fs_store.presigned_get_url(stored.key, expires=dt.timedelta(minutes=10))
    frozen_clock.advance(minutes=9, seconds=59)
    assert client.get(url).status_code == 200
    frozen_clock.advance(seconds=1)
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert b"expired" in response.content


def test_a_tampered_s3_url_is_refused_by_the_server(s3_store: MinioObjectStore, s3_server: object) -> None:
    if getattr(s3_server, "kind", "") == "moto":
        pytest.skip("moto does not verify presigned URL signatures")
    stored = s3_store.put("downloads/guarded.bin", b"guarded")
    url = s3_store.presigned_get_url(stored.key)
    forged = url.replace("downloads/guarded.bin", "downloads/other.bin")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)  # noqa: S310 (the test S3 server on loopback)
    assert refused.value.code == 403
    refused.value.close()


def test_presigned_urls_expire_between_one_second_and_seven_days(object_store: ObjectStore) -> None:
    object_store.put("downloads/x", b"x")
    for expires in (dt.timedelta(0), dt.timedelta(days=8)):
        with pytest.raises(ValueError):
            object_store.presigned_get_url("downloads/x", expires=expires)


@pytest.mark.asyncio
async def test_under_asgi_the_filesystem_download_is_streamed_by_an_async_iterator(
    fs_store: FilesystemObjectStore,
) -> None:
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    data = b"0123456789" * 300_000  # 3 MB: several chunks
    await sync_to_async(fs_store.put)("downloads/async.bin", data)
    url = await sync_to_async(fs_store.presigned_get_url)("downloads/async.bin", filename="异步.bin")
    response = await AsyncClient().get(url)
    assert response.status_code == 200
    assert response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    assert len(chunks) > 1
    assert b"".join(chunks) == data
