"""HTTP to the platform's JSON API with the standard library (``http.client``).

One persistent connection per :class:`HttpTransport`; request bodies are JSON
or a file-like object streamed with an explicit ``Content-Length`` (never read
whole into memory). The API's errors are JSON ``{code, message, fields}`` and
become :class:`ApiError`; failures to reach the server become
:class:`NetworkError`, naming the URL.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

MiB = 1024 * 1024
DEFAULT_TIMEOUT = 60.0
USER_AGENT = "etender-cli/1"


class ClientError(Exception):
    """Something the user must be told about; the command exits with status 1."""


class ApiError(ClientError):
    """The platform refused a request: HTTP status, the API's stable ``code``, its ``message`` and ``fields``."""

    def __init__(self, status: int, code: str, message: str, fields: Mapping[str, list[str]] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = [f"{self.message} [{self.code}, HTTP {self.status}]"]
        for name, messages in self.fields.items():
            for message in messages:
                lines.append(f"  {name}: {message}")
        return "\n".join(lines)


class NetworkError(ClientError):
    """The server could not be reached, or the connection broke."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach {url}: {reason}")


@dataclass
class Response:
    status: int
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Body(Protocol):
    """A request body streamed in blocks (``http.client`` calls ``read(blocksize)`` until it is empty)."""

    def read(self, size: int = -1, /) -> bytes: ...


class Transport(Protocol):
    """What the commands and the uploader need from HTTP (a fake one stands in for it in unit tests)."""

    base_url: str

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: Body | None = None,
        length: int | None = None,
        query: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response: ...

    def close(self) -> None: ...


def normalize_url(url: str) -> str:
    """``https://host[:port][/prefix]`` without a trailing slash; refuses anything else."""
    text = url.strip()
    if "://" not in text:
        raise ClientError(f"the platform URL must start with https:// or http://, not {url!r}")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"the platform URL must be http(s)://host[:port][/path], not {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ClientError(f"the platform URL must not carry a query, a fragment or credentials: {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ClientError(f"the platform URL has an invalid port: {url!r}") from None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class HttpTransport:
    """The real transport: ``http.client`` over one kept-alive connection to ``base_url``."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = normalize_url(base_url)
        parts = urllib.parse.urlsplit(self.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path
        self.token = token
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def url(self, path: str) -> str:
        return self.base_url + path

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=ssl.create_default_context(), blocksize=MiB
                )
            else:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout, blocksize=MiB)
        self._connection.timeout = timeout
        if self._connection.sock is not None:
            self._connection.sock.settimeout(timeout)
        return self._connection

    def close(self) -> None:
        """Close the connection; from another thread, this also interrupts a request blocked on it."""
        connection, self._connection = self._connection, None
        if connection is not None:
            if connection.sock is not None:
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)
            connection.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: Body | None = None,
        length: int | None = None,
        query: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        target = self._prefix + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        url = self.base_url + path
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if basic_auth is not None:
            pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif self.token:
            headers["Authorization"] = "Bearer " + self.token
        payload: bytes | Body | None = None
        if json_body is not None:
            payload = json.dumps(json_body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(payload))
        elif body is not None:
            if length is None:
                raise ValueError("a streamed body needs its length")
            payload = body
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(length)
        elif method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = "0"
        # A GET on a kept-alive connection the server has since closed is retried once on a new one.
        attempts = 2 if method == "GET" and self._connection is not None else 1
        for attempt in range(attempts):
            connection = self._connect(timeout or self.timeout)
            try:
                connection.request(method, target, body=payload, headers=headers)
                raw = connection.getresponse()
                content = raw.read()
                response_headers = {k.lower(): v for k, v in raw.getheaders()}
                status = raw.status
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt + 1 < attempts:
                    continue
                raise NetworkError(url, describe_network_error(exc)) from None
            if response_headers.get("connection", "").lower() == "close":
                self.close()
            break
        return _response(url, status, content, response_headers)


def _response(url: str, status: int, content: bytes, headers: dict[str, str]) -> Response:
    data: Any = None
    is_json = headers.get("content-type", "").split(";")[0].strip() == "application/json"
    if content and is_json:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
    if status >= 400:
        if isinstance(data, dict) and "message" in data:
            fields = data.get("fields") if isinstance(data.get("fields"), dict) else None
            raise ApiError(status, str(data.get("code", f"http_{status}")), str(data["message"]), fields)
        reason = http.client.responses.get(status, "error")
        raise ApiError(status, f"http_{status}", f"HTTP {status} {reason} from {url}")
    if content and not is_json:
        raise ClientError(
            f"{url} answered with {headers.get('content-type') or 'no content type'}, "
            "not JSON: is this the platform's URL?"
        )
    return Response(status, data, headers)


def describe_network_error(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the platform running at this address?)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time (timed out)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError):
        return "the connection was closed by the server"
    text = str(exc) or type(exc).__name__
    return text
