"""RFC 3161 time-stamping: the built-in TSA and the clients pyHanko signs with.

    >>> from signing.tsa import BuiltinTSA, InProcessTimeStamper
    >>> tsa = BuiltinTSA(tsa_key, [tsa_cert, root_cert], "1.2.3.4", clock)  # doctest: +SKIP
    >>> timestamper = InProcessTimeStamper(tsa)  # doctest: +SKIP  (give it to seal_pdf)
"""

from signing.tsa.client import ExternalTimeStamper, InProcessTimeStamper, external_timestamper
from signing.tsa.errors import TimestampConfigError, TimestampError
from signing.tsa.server import BuiltinTSA, response_status

__all__ = [
    "BuiltinTSA",
    "ExternalTimeStamper",
    "InProcessTimeStamper",
    "TimestampConfigError",
    "TimestampError",
    "external_timestamper",
    "response_status",
]
