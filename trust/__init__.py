"""Trust core of SealTrust: SM2/SM3 and RSA primitives, certificates, seals, status.

Importing this package registers the Chinese national algorithm OIDs with
asn1crypto once, so every module above can parse SM2 certificates and CMS.

    >>> from trust import sm2
    >>> key = sm2.PrivateKey.generate()
    >>> key.public_key().verify(b"msg", key.sign(b"msg"))
    True
"""

from trust import oids as _oids

_oids.register()
