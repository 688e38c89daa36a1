"""OFD (GB/T 33190) signatures read into the facts every verifier judges.

    >>> from verification.ofd import extract_ofd_facts
    >>> extract_ofd_facts(b"PK\\x03\\x04 not really a zip").format_error is not None
    True
"""

from verification.ofd.extract import OfdPlan, extract_ofd_facts, finish_ofd, plan_ofd
from verification.ofd.package import OfdLimits, OfdPackage, looks_like_zip

__all__ = ["OfdLimits", "OfdPackage", "OfdPlan", "extract_ofd_facts", "finish_ofd",
           "looks_like_zip", "plan_ofd"]
