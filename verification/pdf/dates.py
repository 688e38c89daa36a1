"""PDF date strings (ISO 32000-1 §7.9.4) to aware datetimes, one parser for both paths.

pyHanko's parser returns naive datetimes when the offset is missing and is
slow on the fast path; here a missing offset is taken as UTC (documented in
docs/report-schema.md) and anything malformed is None.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

__all__ = ["parse_pdf_date"]

_DATE: Final = re.compile(
    r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?"
    r"(?:(Z)(?:00'?00'?)?|([+-])(\d{2})(?:'?(\d{2})'?)?)?\Z"
)


def parse_pdf_date(text: str) -> datetime | None:
    """``D:YYYYMMDDHHmmSSOHH'mm'`` (trailing parts optional) as an aware datetime."""
    m = _DATE.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (
        int(v) if v is not None else default
        for v, default in zip(m.groups()[:6], (0, 1, 1, 0, 0, 0), strict=True)
    )
    tz = UTC
    if m[8] is not None:
        offset = timedelta(hours=int(m[9]), minutes=int(m[10] or 0))
        if offset >= timedelta(hours=24):
            return None
        tz = timezone(-offset if m[8] == "-" else offset)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None
