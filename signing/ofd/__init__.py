"""OFD licences (GB/T 33190) sealed with GB/T 38540 seals.

    entries = render_licence_ofd(...)            # signing.render: the unsigned package files
    package = seal_ofd(entries, key=..., chain=..., seal_der=..., at=...)

The layout of the signature is in docs/ofd.md.
"""

from signing.ofd.seal import OfdSealRequest, seal_ofd

__all__ = ["OfdSealRequest", "seal_ofd"]
