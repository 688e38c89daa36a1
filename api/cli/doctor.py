"""``sealtrust doctor``: what this installation runs on, and how fast."""

from __future__ import annotations

import importlib.metadata
import platform
from dataclasses import asdict
from typing import Any

import click

from api.cli._common import EXIT_FAILED, CliContext, common_options

_LIBRARIES = (
    "cryptography",
    "asn1crypto",
    "pyhanko",
    "pyhanko-certvalidator",
    "gmssl",
    "ipp-crypto",
    "intel-cmplr-lib-rt",
    "python-pkcs11",
    "sqlalchemy",
    "fastapi",
)


def diagnose(seconds: float = 0.3) -> dict[str, Any]:
    """Backend, self-test, versions and a quick measured SM2 rate."""
    from trust import perf, sm2, sm4_gcm
    from verification import native_state

    result = sm2.self_test()
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    backend = sm2.get_backend()
    single, batch = sm2.fast_paths()
    report: dict[str, Any] = {
        "sm2_backend": backend.name,
        "sm2_backend_library": getattr(backend, "version", None),
        "self_test": {"passed": result.passed, "detail": result.detail},
        "sm2_verify_backend": sm2.verify_backend_name(),
        "sm2_batch_backend": sm2.batch_backend_name(),
        "sm2_fast_paths": {r.backend: asdict(r) for r in (single, batch)},
        "sm4_gcm_backend": sm4_gcm.backend_name(),
        "verifier_build": asdict(native_state()),
        "cpu": perf.cpu_features(),
        "python": platform.python_version(),
        "libraries": versions,
    }
    if result.passed:
        report["sm2_rate"] = perf.measure_sm2(seconds)
    return report


@click.command("doctor")
@click.option("--seconds", default=0.3, show_default=True, type=float,
              help="Time spent on each rate measurement.")
@common_options
def command(cli: CliContext, seconds: float) -> None:
    """Report the SM2 and SM4 backends, the verifier's build, the start-up self-test, library
    versions, SM2 speed."""
    report = diagnose(seconds)
    lines = [
        f"SM2 backend: {report['sm2_backend']} ({report['sm2_backend_library'] or 'n/a'})",
        "self-test: " + ("PASSED" if report["self_test"]["passed"] else "FAILED")
        + f" - {report['self_test']['detail']}",
    ]
    lines.append(f"SM2 verification: {report['sm2_verify_backend']}, batches: "
                 f"{report['sm2_batch_backend'] or 'none (loop)'}")
    lines += [
        f"  {name}{' (' + fast['code_path'] + ')' if fast['code_path'] else ''}: "
        f"{'in use' if fast['active'] else 'not used'} - {fast['detail']}"
        for name, fast in report["sm2_fast_paths"].items()
    ]
    lines.append(f"SM4-GCM (data at rest, archives): {report['sm4_gcm_backend']}")
    build = report["verifier_build"]
    kind = "compiled 已编译" if build["compiled"] else "source 源码"
    lines.append(f"verifier parsers 验证解析模块: {kind} - {build['reason']}")
    cpu = report["cpu"]
    flags = " ".join(f"{k}{'+' if v else '-'}" for k, v in cpu["flags"].items())
    lines.append(f"CPU: {cpu['model']} ({flags})")
    rate = report.get("sm2_rate")
    if rate:
        lines.append(f"SM2 sign {rate['sign_per_s']:.0f}/s, verify {rate['verify_per_s']:.0f}/s"
                     f" ({rate['verify_backend']})")
        if "verify_openssl_per_s" in rate:
            lines.append(f"SM2 verify OpenSSL {rate['verify_openssl_per_s']:.0f}/s in the same run:"
                         f" {rate['verify_ratio_vs_openssl']:.2f}x")
        lines.append(f"SM2 verify_many {rate['verify_many_per_s']:.0f}/s"
                     f" ({rate['verify_many_backend']})")
    lines += [f"{k}: {v or 'not installed'}" for k, v in report["libraries"].items()]
    cli.emit(report, "\n".join(lines))
    if not report["self_test"]["passed"]:
        raise SystemExit(EXIT_FAILED)
