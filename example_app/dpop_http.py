"""What :mod:`.dpop_client` needs to talk to the running app: a DPoP key that
signs proofs (RFC 9449 §4.2, with joserfc) and remembers the server's
nonces, and a small HTTP client (the standard library's, with a cookie jar,
not following redirects) that retries once when the server asks for a nonce.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.cookiejar
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, Key, RSAKey


def new_key(alg: str) -> Key:
    """A fresh private key for ``alg`` (ES256, RS256 or PS256)."""
    key: Key
    if alg in ("RS256", "PS256"):
        key = RSAKey.generate_key(2048)
    else:
        key = ECKey.generate_key("P-256")
    return key


class DPoPKey:
    """The client's private key; it never leaves this process."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key = new_key(alg)
        #: The last nonce a server handed out (``DPoP-Nonce``), if any.
        self.nonce: str | None = None

    @property
    def jkt(self) -> str:
        """The key's JWK SHA-256 thumbprint (RFC 7638)."""
        return self.key.thumbprint()

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A fresh proof for one request (RFC 9449 §4.2)."""
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url.split("?", 1)[0],
            "iat": int(time.time()),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if self.nonce is not None:
            claims["nonce"] = self.nonce
        header = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.key.as_dict()}
        return jws.serialize_compact(
            header, json.dumps(claims), self.key, algorithms=[self.alg]
        )


@dataclasses.dataclass
class Answer:
    """An HTTP response, read whole."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """HTTP with cookies and without following redirects."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    def send(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(  # noqa: S310 (the app's own URL)
            self.url(path), data=data, method=method, headers=headers or {}
        )
        try:
            with self._opener.open(request, timeout=30) as response:
                return Answer(
                    response.status, dict(response.headers), response.read().decode()
                )
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read().decode())

    def with_proof(
        self,
        key: DPoPKey,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        access_token: str | None = None,
    ) -> Answer:
        """A request with a proof of ``key``; asked for a nonce (RFC 9449
        §8, §9), it retries once with it. A nonce handed out on success is
        kept for the next request."""
        for _ in range(2):
            proof = key.proof(method, self.url(path), access_token)
            answer = self.send(method, path, form, {**(headers or {}), "DPoP": proof})
            nonce = answer.headers.get("DPoP-Nonce")
            if nonce is not None:
                key.nonce = nonce
            if nonce is None or "use_dpop_nonce" not in answer.text + str(
                answer.headers.get("WWW-Authenticate")
            ):
                return answer
        return answer
