"""The verifier's modules compiled with mypyc when a C compiler is at hand (setup.py).

Read by setup.py without importing the package, and by :mod:`verification._native`.
"""

NATIVE_MODULES: tuple[str, ...] = (
    "verification.der",
    "verification.cms_fast",
    "verification.pdf.locate",
    "verification.pdf.xref",
)
