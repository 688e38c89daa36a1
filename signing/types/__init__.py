"""Licence types as data: a JSON Schema of the fields plus a layout template.

    >>> from signing.types import get_type
    >>> dl = get_type("DL")
    >>> record = dl.example(7)
    >>> dl.validate(record) is record
    True
    >>> dl.holder_name(record) == record["name"]
    True

Shipped types (``signing/types/definitions``, README there): 127 licences of
persons and organisations, from BL 营业执照, DL 机动车驾驶证 and RIC 居民身份证
(hand-placed layouts) to MC 结婚证, RPC 不动产权证书 or FBL 食品经营许可证 (laid
out by templates from their field lists). Each type has ``holder_kind``,
``authority_class`` and zh/en ``labels`` for every field. A deployment adds its
own, or a higher version of a shipped one, with :func:`load_registry`.

    >>> get_type("MC").label("spouse_name")["en"]
    "Spouse's name"
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
