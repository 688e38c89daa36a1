"""pyHanko ``TimeStamper`` adapters: the built-in TSA in-process, or an external URL.

pyHanko asks its ``TimeStamper`` for a signature time-stamp while it builds the
CMS; handing it the built-in TSA directly avoids an HTTP round trip per
licence (and the in-process path skips the request/response encoding too),
while an external TSA stays one configuration switch away. Both map every
failure (refusal, bad nonce, unparseable reply, network) to
:class:`TimestampError`.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import cms
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from signing.tsa.errors import TimestampConfigError, TimestampError
from signing.tsa.server import BuiltinTSA

__all__ = ["ExternalTimeStamper", "InProcessTimeStamper", "external_timestamper"]


class InProcessTimeStamper(TimeStamper):  # type: ignore[misc]
    """Hands pyHanko tokens from a :class:`BuiltinTSA` in this process."""

    def __init__(self, tsa: BuiltinTSA) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._tsa = tsa

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        """The token straight from the TSA (:meth:`BuiltinTSA.token_for`), no request round trip."""
        return cms.ContentInfo.load(self.token(message_digest, md_algorithm))

    def token(self, message_digest: bytes, md_algorithm: str) -> bytes:
        """The same token as DER, for callers outside pyHanko (the OFD sealer): no event
        loop round and no parse-and-dump of the token."""
        return self._tsa.token_for(md_algorithm, message_digest)


class ExternalTimeStamper(HTTPTimeStamper):  # type: ignore[misc]
    """pyHanko's aiohttp RFC 3161 client with failures mapped to :class:`TimestampError`."""

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        try:
            return await super().async_timestamp(message_digest, md_algorithm)
        except TimestampError:
            raise
        # asn1crypto raises ValueError on a rejection reply (it has no token).
        except (TimestampRequestError, OSError, ValueError, TypeError, KeyError) as exc:
            raise TimestampError(f"external TSA {self.url}: {exc}") from exc


def external_timestamper(
    url: str, *, timeout: float = 5.0, auth: tuple[str, str] | None = None, https_only: bool = True
) -> ExternalTimeStamper:
    """A client for an external RFC 3161 TSA at ``url``.

    ``https_only`` refuses plain HTTP unless the caller opts out explicitly
    (a local test TSA): the token is signed, but a plain request leaks which
    document digests are being stamped.
    """
    if not url.startswith(("http://", "https://")):
        raise TimestampConfigError(f"TSA URL must be http(s): {url!r}")
    if https_only and not url.startswith("https://"):
        raise TimestampConfigError(f"TSA URL must be https (pass https_only=False): {url!r}")
    kwargs: dict[str, Any] = {"timeout": timeout}
    if auth is not None:
        kwargs["auth"] = auth
    return ExternalTimeStamper(url, **kwargs)
