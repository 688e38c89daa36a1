"""Licence types as data: a JSON Schema of the fields plus a layout template.

    >>> from signing.types import get_type
    >>> dl = get_type("DL")
    >>> record = dl.example(7)
    >>> dl.validate(record) is record
    True
    >>> dl.holder_name(record) == record["name"]
    True

Shipped types (``signing/types/definitions``): BL 营业执照, DL 机动车驾驶证,
VL 机动车行驶证, SSC 社会保障卡, RIC 居民身份证, APR 行政许可决定 (generic
approval result). A deployment adds its own with :func:`load_types_from`.
"""

from signing.types._model import LicenceType, Validity
from signing.types._registry import (
    TypeRegistry,
    builtin_types,
    get_type,
    load_registry,
    load_types_from,
)
from signing.types.errors import (
    FieldError,
    LicenceTypeDefinitionError,
    RecordValidationError,
    UnknownLicenceTypeError,
)
from signing.types.layout import Box, Layout, Square, TextSpec

__all__ = [
    "Box",
    "FieldError",
    "Layout",
    "LicenceType",
    "LicenceTypeDefinitionError",
    "RecordValidationError",
    "Square",
    "TextSpec",
    "TypeRegistry",
    "UnknownLicenceTypeError",
    "Validity",
    "builtin_types",
    "get_type",
    "load_registry",
    "load_types_from",
]
