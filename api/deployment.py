"""The embedded deployment: what ``sealtrust init`` creates in a home directory.

Layout of ``HOME`` (default ``./.sealtrust``)::

    sealtrust.db            SQLite registry (unless SEALTRUST_DATABASE_URL names another)
    deployment.json         roles -> key URIs, demo department and seal, where device
                            key PINs come from (variable names and paths, no secrets)
    keys/<role>.p8          encrypted PKCS#8 (scrypt + AES-256-CBC), with <role>.chain.pem
    keys/holder-ref.key     32 random bytes (0600): the HMAC-SM3 key of holder references
    keys/holder-session.key 32 random bytes (0600): the MAC key of holder-app sessions
    secrets/keystore.pass   the software key store password (mode 0600; development only:
                            production passes SEALTRUST_KEYSTORE_PASSWORD or an HSM PIN)
    pki/<role>.pem          the deployment's certificates, for relying parties

Key roles (docs/architecture.md, "Keys and roles"): ``{sm2,rsa}-root`` sign only
at ``init`` and in offline ceremonies (the upgrade below, new issuing CAs); the
service never opens them (:attr:`Deployment.online` refuses). Department keys
are certified by ``{sm2,rsa}-issuing-ca``; trust lists, status lists and the
roots' CRLs are signed by ``{sm2,rsa}-list-signer``. Every certificate below a
root carries a CRL distribution point under ``public_url`` (deployment.json,
default from ``SEALTRUST_PUBLIC_URL``). ``init`` on an existing home upgrades a
deployment made before issuing CAs existed: it creates the missing issuing CAs
and list signers with the root keys, once.

``deployment.json`` may also hold the service's audit head policy,
``"audit_heads": {"interval_s": 1.0, "max_pending": 256}`` (the defaults; the
``SEALTRUST_AUDIT_HEAD_*`` variables override it per node), see
:class:`trust.audit.HeadPolicy` and docs/operations.md.

``init_deployment`` is idempotent: every step checks what exists and a second
run changes nothing. Private keys go straight from the demo PKI generator into
the key store; none is printed or logged.

Device keys (``pkcs11:``, ``sdf:``) have their own PINs, never the key store
password: sending the wrong secret to a token burns one of its few login
attempts. ``deployment.json`` maps a key URI to the *name* of an environment
variable or the path of a 0600 file holding its PIN (``"pins": {uri: {"env":
"HSM_PIN"}}``); a device key without an entry reads ``SEALTRUST_PIN_<first 16
hex digits of SHA-256(uri), upper case>`` (:func:`device_pin_env`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from pyhanko.sign.timestamps import TimeStamper

from api.data_kek import FIRST_FILE_KEK, create_kek, data_keys_for
from hsm_adapters import KeyStoreRegistry
from hsm_adapters.base import Key
from hsm_adapters.pins import EnvPin, FilePin, PinSource
from hsm_adapters.registry import scheme_of
from signing.departments import RootCA
from signing.issue import IssuerContext, Signer
from signing.seals import make_department_seal
from signing.tsa import BuiltinTSA, InProcessTimeStamper, external_timestamper
from signing.types import TypeRegistry, load_registry
from trust import audit
from trust.errors import CryptoError, InputError, NotFoundError, SealTrustError
from trust.holder_ref import HolderKey, create_key_file, load_holder_key, read_key_file
from trust.holder_session import SessionKey
from trust.keys import SoftwareKey
from trust.pki import ISSUING_CA, LIST_SIGNER, Certificate, SubjectName, build_demo_pki
from trust.pki import issue_certificate as _issue_certificate
from trust.pki.demo import CRL_PATH
from trust.pki.oids import TSA_POLICY
from trust.registry import Registry, migrate
from trust.registry.models import CertificateRecord, Department, KeyRecord, Meta

FORMAT_VERSION: Final = 1
PASSWORD_ENV: Final = "SEALTRUST_KEYSTORE_PASSWORD"  # noqa: S105 - a variable name
DEMO_DEPARTMENT: Final = "demo-amr"
TSA_POLICY_OID: Final = TSA_POLICY
TSA_URL_ENV: Final = "SEALTRUST_TSA_URL"
TSA_ALLOW_HTTP_ENV: Final = "SEALTRUST_TSA_ALLOW_HTTP"
SEAL_YEARS: Final = 3
PIN_ENV_PREFIX: Final = "SEALTRUST_PIN_"
HEAD_INTERVAL_ENV: Final = "SEALTRUST_AUDIT_HEAD_INTERVAL_S"
HEAD_MAX_PENDING_ENV: Final = "SEALTRUST_AUDIT_HEAD_MAX_PENDING"
PUBLIC_URL_ENV: Final = "SEALTRUST_PUBLIC_URL"
DEFAULT_PUBLIC_URL: Final = "http://127.0.0.1:8000"
FAMILIES: Final = ("sm2", "rsa")
ROOT_ROLES: Final = tuple(f"{f}-root" for f in FAMILIES)
ISSUING_CA_ROLES: Final = tuple(f"{f}-issuing-ca" for f in FAMILIES)
LIST_SIGNER_ROLES: Final = tuple(f"{f}-list-signer" for f in FAMILIES)
CA_YEARS: Final = 10
LIST_SIGNER_YEARS: Final = 3
_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def device_pin_env(uri: str) -> str:
    """The conventional variable for a device key's PIN when deployment.json names none.

    Derived from the URI (which may hold characters no variable name can) so
    that ``sealtrust issue --key pkcs11:...`` works without editing any file.
    """
    return PIN_ENV_PREFIX + hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16].upper()


def head_policy(config: dict[str, Any]) -> audit.HeadPolicy:
    """The service's audit head policy: ``audit_heads`` in deployment.json, then the environment."""
    spec = config.get("audit_heads", {})
    if not isinstance(spec, dict) or set(spec) - {"interval_s", "max_pending"}:
        raise InputError("deployment.json: audit_heads takes interval_s and max_pending")
    spec = dict(spec)
    for name, env in (("interval_s", HEAD_INTERVAL_ENV), ("max_pending", HEAD_MAX_PENDING_ENV)):
        if os.environ.get(env):
            spec[name] = os.environ[env]
    defaults = audit.HeadPolicy()
    try:
        return audit.HeadPolicy(
            interval_s=float(spec.get("interval_s", defaults.interval_s)),
            max_pending=int(spec.get("max_pending", defaults.max_pending)))
    except (TypeError, ValueError):
        raise InputError(f"audit head policy: interval_s must be seconds and max_pending a "
                         f"count, not {spec}") from None


def _pin_spec(uri: object, spec: object) -> dict[str, str]:
    """A validated ``{"env": NAME}`` or ``{"file": ABSOLUTE_PATH}`` entry of ``pins``."""
    if not isinstance(uri, str) or not isinstance(spec, dict) or len(spec) != 1:
        raise InputError("deployment.json: each pins entry maps a key URI to "
                         "{\"env\": NAME} or {\"file\": PATH}")
    kind, value = next(iter(spec.items()))
    if kind == "env" and isinstance(value, str) and _ENV_NAME.match(value):
        return {"env": value}
    if kind == "file" and isinstance(value, str) and Path(value).is_absolute():
        return {"file": value}
    raise InputError(f"deployment.json: bad PIN source for key {uri}: give an environment "
                     "variable name or an absolute file path")


@dataclass(frozen=True)
class Home:
    """Paths of one deployment."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "deployment.json"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def password_file(self) -> Path:
        return self.secrets / "keystore.pass"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def types_dir(self) -> Path:
        """The deployment's own licence types (a higher version overrides a shipped one)."""
        return self.root / "types"

    def licence_types(self) -> TypeRegistry:
        """The shipped licence types plus the deployment's own."""
        return load_registry(self.types_dir)

    @property
    def holder_key_file(self) -> Path:
        return self.keys / "holder-ref.key"

    @property
    def session_key_file(self) -> Path:
        return self.keys / "holder-session.key"

    def database_url(self) -> str:
        return os.environ.get("SEALTRUST_DATABASE_URL") or \
            f"sqlite:///{(self.root / 'sealtrust.db').resolve()}"

    def pin(self) -> PinSource:
        """The key store password: the environment wins over the development file."""
        if os.environ.get(PASSWORD_ENV):
            return EnvPin(PASSWORD_ENV)
        return FilePin(self.password_file)


@dataclass
class InitResult:
    """What ``init`` did (``created`` False when everything already existed)."""

    home: Path
    created: bool
    actions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"home": str(self.home), "created": self.created, "actions": self.actions}


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_uri(role: str) -> str:
    return f"file:keys/{role}.p8"


def _holder_keys(home: Home, result: InitResult) -> None:
    """Create the holder-reference and holder-session keys if missing (upgrade-safe)."""
    for path, what in ((home.holder_key_file, "holder reference"),
                       (home.session_key_file, "holder session")):
        if create_key_file(path):
            result.actions.append(f"created the {what} key ({path.relative_to(home.root)})")


def backfill_holder_refs_of(home: Home) -> int:
    """Give licences issued before holder references theirs (resumable, idempotent)."""
    from trust.registry.holders import backfill_holder_refs

    fields = {t.code: t.holder_id_field for t in home.licence_types()}
    # Through the deployment, whose registry carries the data keys: sealed records are
    # read by the one decryption path (trust.registry.sealed.licence_record).
    deployment = Deployment(home, load_config(home))
    try:
        return backfill_holder_refs(deployment.registry, load_holder_key(home.holder_key_file),
                                    fields)
    finally:
        deployment.close()


def public_url(config: dict[str, Any] | None = None) -> str:
    """The service's public base URL (CRL distribution points): deployment.json, env, default."""
    url = str((config or {}).get("public_url") or os.environ.get(PUBLIC_URL_ENV)
              or DEFAULT_PUBLIC_URL).rstrip("/")
    if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", url):
        raise InputError(f"public URL {url[:80]!r} must be an http(s) URL without query")
    return url


def init_deployment(root: Path, *, now: datetime | None = None,
                    actor: str = "sealtrust init") -> InitResult:
    """Create the embedded deployment in ``root``; upgrade an existing one (idempotent)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise InputError("init time must be timezone-aware")
    home = Home(root)
    result = InitResult(home=root.resolve(), created=False)
    root.mkdir(parents=True, exist_ok=True)
    if home.config.exists():
        migrate(home.database_url())  # an upgrade of an older database, else a no-op
        load_config(home)  # validates
        upgraded = upgrade_key_roles(home, now=now, actor=actor)
        result.actions += upgraded
        _holder_keys(home, result)  # a deployment made before holder references
        filled = backfill_holder_refs_of(home)
        if filled:
            result.actions.append(f"set the holder reference of {filled} existing licences")
        if not result.actions:
            result.actions.append("deployment already initialised; nothing changed")
        return result
    result.created = True
    if not os.environ.get(PASSWORD_ENV) and not home.password_file.exists():
        _write_private(home.password_file, secrets.token_urlsafe(32).encode())
        result.actions.append("generated the development key store password")
    migrate(home.database_url())
    result.actions.append("created the registry schema")
    _holder_keys(home, result)

    base_url = public_url()
    pki = build_demo_pki(secrets.token_bytes(32), now, crl_base=base_url)
    roles: dict[str, str] = {}
    registry = Registry(home.database_url())
    pin = home.pin()
    try:
        with KeyStoreRegistry(base_dir=root) as stores, registry.session() as session:
            for role in pki.roles:
                uri = _key_uri(role)
                stores.import_key(uri, pki.key(role), pin)
                stores.set_certificate_chain(uri, [c.der for c in pki.chain(role)])
                roles[role] = uri
                cert = pki.certificate(role)
                issuer = pki.chain(role)[1] if len(pki.chain(role)) > 1 else cert
                session.add(CertificateRecord(
                    fingerprint=cert.sha256.hex(), role=role, subject=cert.subject_text,
                    issuer_fingerprint=issuer.sha256.hex(), is_ca=cert.is_ca, der=cert.der,
                    not_before=cert.not_before, not_after=cert.not_after))
                session.add(KeyRecord(uri=uri, label=role, algorithm=cert.key_algorithm or "",
                                      role=role, certificate_fingerprint=cert.sha256.hex()))
            result.actions.append(f"demo PKI: {len(pki.roles)} certificates, keys in keys/")
            audit_key = SoftwareKey.generate("sm2")
            stores.import_key(_key_uri("audit"), audit_key, pin)
            roles["audit"] = _key_uri("audit")
            session.add(KeyRecord(uri=roles["audit"], label="audit log", algorithm="sm2",
                                  role="audit"))
            kek_uri = create_kek(stores, FIRST_FILE_KEK, pin, session)  # seals personal data
            result.actions.append(f"data key-encryption key {kek_uri}")

            issuer = pki.certificate("sm2-issuer")
            dept = Department(code=DEMO_DEPARTMENT, name=issuer.common_name or "demo",
                              uscc=issuer.uscc or "", region="330100")
            session.add(dept)
            session.flush()
            for alg in ("sm2", "rsa"):
                rec = session.get(KeyRecord, roles[f"{alg}-issuer"])
                assert rec is not None
                rec.department_code = DEMO_DEPARTMENT
            maker = stores.open_key(roles["sm2-seal-maker"], pin)
            seal = make_department_seal(
                session, department_code=DEMO_DEPARTMENT, maker_key=maker,
                maker_cert=pki.certificate("sm2-seal-maker"),
                signer_certs=[pki.certificate("sm2-issuer"), pki.certificate("rsa-issuer")],
                valid_start=now, valid_end=now + timedelta(days=365 * SEAL_YEARS), at=now,
                actor=actor)
            result.actions.append(f"demo department {DEMO_DEPARTMENT} and seal {seal.es_id}")
            session.add(Meta(key="created_at", value=now.isoformat()))
            audit.append(session, kind="deployment.init", actor=actor,
                         subject=str(root.resolve()), at=now,
                         details={"roles": sorted(roles), "seal": seal.es_id})
            audit.sign_head(session, stores.open_key(roles["audit"], pin), now)
        home.pki.mkdir(exist_ok=True)
        for role in pki.roles:
            (home.pki / f"{role}.pem").write_text(pki.certificate(role).to_pem())
        config = {"format": FORMAT_VERSION, "created_at": now.isoformat(), "keys": roles,
                  "demo_department": DEMO_DEPARTMENT, "demo_seal": seal.es_id,
                  "data_kek": kek_uri, "public_url": base_url}
        tmp = home.config.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, ensure_ascii=False, indent=2))
        tmp.replace(home.config)  # written last: its presence means "initialised"
    finally:
        registry.close()
    result.actions.append(f"wrote {home.config.name}")
    return result


def _name_of(root: Certificate) -> SubjectName:
    """The root's subject as a SubjectName, re-encoding to the very same DER (or an error)."""
    fields = root.subject_fields
    try:
        name = SubjectName(root.common_name or "", organization=fields.get("organization_name"),
                           organizational_unit=fields.get("organizational_unit_name"),
                           uscc=root.uscc, country=fields.get("country_name", "CN"))
    except SealTrustError:
        name = None
    if name is None or name.to_asn1().dump() != root.subject_der:
        raise InputError(f"cannot name a list signer like the root {root.subject_text}: "
                         "make one in an offline ceremony with your CA tools")
    return name


def upgrade_key_roles(home: Home, *, now: datetime, actor: str) -> list[str]:
    """Give a deployment made before key roles existed its issuing CAs and list signers.

    An offline ceremony (``sealtrust init`` on an existing home): the only
    code path besides ``init`` that opens a root key. Each missing role gets a
    new software key certified by its root; nothing that exists is changed,
    so a second run does nothing. Department keys certified by a root before
    the upgrade stay valid; new ones come from the issuing CA.
    """
    config = load_config(home)
    keys: dict[str, str] = config["keys"]
    missing = [(family, role) for family in FAMILIES if f"{family}-root" in keys
               for role in (f"{family}-issuing-ca", f"{family}-list-signer") if role not in keys]
    if not missing and "public_url" in config:
        return []
    actions: list[str] = []
    base_url = public_url(config)
    registry = Registry(home.database_url())
    pin = home.pin()
    try:
        with KeyStoreRegistry(base_dir=home.root) as stores, registry.session() as session:
            for family, role in missing:
                root_key = stores.open_key(keys[f"{family}-root"], pin)
                chain = root_key.certificate_chain()
                if not chain:
                    raise NotFoundError(f"the {family}-root key has no certificate")
                root = Certificate.from_der(chain[0])
                is_ca = role.endswith("issuing-ca")
                uri = _key_uri(role)
                algorithm = "sm2" if family == "sm2" else ("rsa-3072" if is_ca else "rsa-2048")
                key = SoftwareKey.generate(algorithm)
                years = CA_YEARS if is_ca else LIST_SIGNER_YEARS
                cert = _issue_certificate(
                    issuer_key=root_key, issuer=root,
                    # The list signer carries the root's name: a delegated CRL signer.
                    subject=(SubjectName(f"{root.common_name or family} issuing CA"[:64],
                                         organization=_name_of(root).organization)
                             if is_ca else _name_of(root)),
                    subject_spki=key.public_key_der(), profile=ISSUING_CA if is_ca else LIST_SIGNER,
                    not_before=now, not_after=min(now + timedelta(days=365 * years),
                                                  root.not_after),
                    crl_urls=(f"{base_url}{CRL_PATH}{family}-root",))
                stores.import_key(uri, key, pin)
                stores.set_certificate_chain(uri, [cert.der, root.der])
                session.add(CertificateRecord(
                    fingerprint=cert.sha256.hex(), role=role, subject=cert.subject_text,
                    issuer_fingerprint=root.sha256.hex(), is_ca=cert.is_ca, der=cert.der,
                    not_before=cert.not_before, not_after=cert.not_after))
                session.add(KeyRecord(uri=uri, label=role, algorithm=algorithm, role=role,
                                      certificate_fingerprint=cert.sha256.hex()))
                keys[role] = uri
                home.pki.mkdir(exist_ok=True)
                (home.pki / f"{role}.pem").write_text(cert.to_pem())
                actions.append(f"upgrade: created {role} ({cert.subject_text}) under {family}-root")
            if missing:
                audit.append(session, kind="deployment.upgraded", actor=actor,
                             subject=str(home.root.resolve()), at=now,
                             details={"created": [role for _, role in missing]})
                audit.sign_head(session, stores.open_key(keys["audit"], pin), now)
    finally:
        registry.close()
    if "public_url" not in config:
        actions.append(f"upgrade: public URL {base_url} (CRL distribution points)")
    config = {k: v for k, v in config.items() if k != "pins" or v}
    config["keys"], config["public_url"] = keys, base_url
    tmp = home.config.with_name(f".{home.config.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config, ensure_ascii=False, indent=2))
    tmp.replace(home.config)
    return actions


def load_config(home: Home) -> dict[str, Any]:
    """The deployment description, or a clear error when ``init`` has not run."""
    try:
        config: dict[str, Any] = json.loads(home.config.read_text())
    except FileNotFoundError:
        raise NotFoundError(
            f"no deployment in {home.root} (run `sealtrust init --home {home.root}`)"
        ) from None
    except ValueError as exc:
        raise InputError(f"{home.config} is not valid JSON: {exc}") from exc
    if config.get("format") != FORMAT_VERSION or not isinstance(config.get("keys"), dict):
        raise InputError(f"{home.config} has an unknown format")
    pins = config.setdefault("pins", {})
    if not isinstance(pins, dict):
        raise InputError(f"{home.config}: pins must be an object")
    config["pins"] = {uri: _pin_spec(uri, spec) for uri, spec in pins.items()}
    head_policy(config)  # validates
    return config


@contextmanager
def open_deployment(root: Path) -> Iterator[Deployment]:
    """The deployment's registry and key stores, closed on exit."""
    home = Home(root)
    config = load_config(home)
    deployment = Deployment(home, config)
    try:
        yield deployment
    finally:
        deployment.close()


class Deployment:
    """An initialised deployment: registry, key stores, role keys."""

    def __init__(self, home: Home, config: dict[str, Any]) -> None:
        self.home = home
        self.config = config
        self.registry = Registry(home.database_url())
        self.stores = KeyStoreRegistry(base_dir=home.root)
        self.registry.data_keys = data_keys_for(self)  # personal data sealed at rest
        self._keys: dict[str, Key] = {}
        self._issuer_context: IssuerContext | None = None
        self._holder_key: HolderKey | None = None
        self._session_key: SessionKey | None = None
        # This process's deferred audit heads while the service runs (defer_audit_heads);
        # None: every write transaction signs its head (CLI, batch workers).
        self.audit_heads: audit.HeadSchedule | None = None
        self._head_flusher: audit.HeadFlusher | None = None
        # True in the service: the root keys are never opened there (key roles).
        self.online = False

    @property
    def head_policy(self) -> audit.HeadPolicy:
        return head_policy(self.config)

    def defer_audit_heads(self) -> audit.HeadSchedule | None:
        """Sign audit heads in a background thread per :attr:`head_policy` (the service).

        Sets :attr:`audit_heads`, which service code passes to ``sign_pending``
        and ``issue_one``; :meth:`close` signs a last head. With interval 0
        nothing is deferred.
        """
        policy = self.head_policy
        if not policy.immediate and self._head_flusher is None:
            schedule = audit.HeadSchedule(policy)
            self._head_flusher = audit.HeadFlusher(schedule, self.registry.session,
                                                   lambda: self.key("audit"))
            self._head_flusher.start()
            self.audit_heads = schedule
        return self.audit_heads

    def key_uri(self, role: str) -> str:
        try:
            uri: str = self.config["keys"][role]
        except KeyError:
            raise NotFoundError(f"the deployment has no {role!r} key") from None
        return uri

    def offline_key_uris(self) -> set[str]:
        """URIs of the keys the service never opens (the roots)."""
        return {self.config["keys"][r] for r in ROOT_ROLES if r in self.config["keys"]}

    def key(self, role_or_uri: str) -> Key:
        """A role's key (or any key by URI), opened once and cached."""
        uri = role_or_uri if ":" in role_or_uri else self.key_uri(role_or_uri)
        if self.online and uri in self.offline_key_uris():
            # Threat: a compromised or buggy service signing with a root (new CAs,
            # forged lists). Roots sign only in offline ceremonies (init, upgrade).
            raise CryptoError(f"the service does not use root keys ({role_or_uri}): they sign "
                              "only in offline ceremonies", code="key.root_offline")
        key = self._keys.get(uri)
        if key is None:
            key = self.stores.open_key(uri, self.pin_for(uri))
            self._keys[uri] = key
        return key

    def pin_for(self, uri: str) -> PinSource:
        """Where the PIN of ``uri`` comes from (see the module docstring); never the PIN."""
        spec = self.config.get("pins", {}).get(uri)
        if spec is not None:
            return EnvPin(spec["env"]) if "env" in spec else FilePin(spec["file"])
        if scheme_of(uri) == "file":
            return self.home.pin()
        return EnvPin(device_pin_env(uri))

    def set_pin_source(self, uri: str, *, env: str | None = None,
                       file: Path | None = None) -> None:
        """Record in deployment.json where ``uri``'s PIN comes from (a name or path only)."""
        if (env is None) == (file is None):
            raise InputError("give exactly one PIN source: an environment variable or a file")
        spec = _pin_spec(uri, {"env": env} if env is not None
                         else {"file": str(Path(str(file)).resolve())})
        # Re-read: another command may have changed the file since this one loaded it.
        config = load_config(self.home)
        if config["pins"].get(uri) != spec:
            config["pins"] = {**config["pins"], uri: spec}
            self._write_config(config)
        self.config = {**self.config, "pins": config["pins"]}

    def _write_config(self, config: dict[str, Any]) -> None:
        tmp = self.home.config.with_name(f".{self.home.config.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(config, ensure_ascii=False, indent=2))
        tmp.replace(self.home.config)  # atomic: a crash leaves the old or the new file

    def certificate(self, role: str) -> Certificate:
        """The certificate of a role: from the registry (no key opened), else its key's."""
        from sqlalchemy import select

        with self.registry.session() as session:
            der = session.execute(select(CertificateRecord.der).where(
                CertificateRecord.role == role).order_by(
                CertificateRecord.not_before.desc()).limit(1)).scalar()
        if der is not None:
            return Certificate.from_der(bytes(der))
        chain = self.key(role).certificate_chain()
        if not chain:
            raise NotFoundError(f"the {role!r} key has no certificate")
        return Certificate.from_der(chain[0])

    def signer(self, role_or_uri: str) -> Signer:
        """A key with its stored certificate chain, ready for issuance."""
        key = self.key(role_or_uri)
        chain = tuple(key.certificate_chain())
        if not chain:
            raise NotFoundError(f"key {key.uri} has no certificate chain")
        return Signer(key, chain, key.uri)

    def issuer_context(self) -> IssuerContext:
        """Licence types, the QR token signer and the time-stamper (built once).

        The built-in TSA stamps by default (SM2 signatures with the SM2 TSA key,
        RSA ones with the RSA key); ``SEALTRUST_TSA_URL`` (https; plain http only
        with ``SEALTRUST_TSA_ALLOW_HTTP=1``) sends every request to an external
        RFC 3161 service instead.
        """
        if self._issuer_context is None:
            stampers: dict[str, TimeStamper] = {}
            url = os.environ.get(TSA_URL_ENV)
            if url:
                # Plain http only when explicitly allowed (a TSA on loopback in tests).
                external = external_timestamper(
                    url, https_only=os.environ.get(TSA_ALLOW_HTTP_ENV) != "1")
                stampers = {"sm2": external, "intl": external}
            for family, role in (("sm2", "sm2-tsa"), ("intl", "rsa-tsa")):
                if family not in stampers and role in self.config["keys"]:
                    tsa_key = self.key(role)
                    stampers[family] = InProcessTimeStamper(BuiltinTSA(
                        tsa_key, tsa_key.certificate_chain(), TSA_POLICY_OID,
                        lambda: datetime.now(UTC)))
            self._issuer_context = IssuerContext(
                types=self.home.licence_types(), token_signer=self.signer("sm2-token-signer"),
                timestampers=stampers, holder_key=self.holder_key())
        return self._issuer_context

    def holder_key(self) -> HolderKey:
        """The holder-reference key (``keys/holder-ref.key``; ``sealtrust init`` creates it)."""
        if self._holder_key is None:
            self._holder_key = load_holder_key(self.home.holder_key_file)
        return self._holder_key

    def session_key(self) -> SessionKey:
        """The holder-session MAC key (``keys/holder-session.key``)."""
        if self._session_key is None:
            self._session_key = SessionKey(read_key_file(self.home.session_key_file))
        return self._session_key

    @property
    def public_url(self) -> str:
        return public_url(self.config)

    def crl_url(self, ca_role: str) -> str:
        """Where relying parties fetch ``ca_role``'s CRL (GET /v1/trust/crl/{ca})."""
        return f"{self.public_url}{CRL_PATH}{ca_role}"

    def roots(self) -> dict[str, RootCA]:
        """The CAs that certify department keys, by algorithm family: the issuing CAs.

        Never a root (key roles). A deployment made before issuing CAs existed
        is upgraded by ``sealtrust init --home HOME``.
        """
        out: dict[str, RootCA] = {}
        for alg in FAMILIES:
            role = f"{alg}-issuing-ca"
            if role in self.config["keys"]:
                ca = self.certificate(role)
                out[alg] = RootCA(ca, self.key(role),
                                  chain=(ca, self.certificate(f"{alg}-root")),
                                  crl_urls=(self.crl_url(role),))
        if not out and any(r in self.config["keys"] for r in ROOT_ROLES):
            raise NotFoundError("this deployment has no issuing CA yet: run `sealtrust init "
                                f"--home {self.home.root}` once to upgrade it",
                                code="deployment.no_issuing_ca")
        return out

    def crl_ca_roles(self) -> tuple[str, ...]:
        """The CAs whose CRL the service publishes."""
        return tuple(r for r in (*ROOT_ROLES, *ISSUING_CA_ROLES) if r in self.config["keys"])

    def sign_crl(self, session: Any, ca_role: str, at: datetime) -> bytes:
        """``ca_role``'s CRL: a root's by its list signer (delegated), an issuing CA's by itself."""
        from trust.registry.certificates import issue_crl

        if ca_role not in self.crl_ca_roles():
            raise NotFoundError(f"no CA {ca_role[:32]!r}", code="crl.not_found")
        ca = self.certificate(ca_role)
        if ca_role in ROOT_ROLES:
            signer_role = ca_role.replace("-root", "-list-signer")
            if signer_role not in self.config["keys"]:
                raise NotFoundError(f"no {signer_role}: run `sealtrust init --home "
                                    f"{self.home.root}` once to upgrade", code="crl.not_found")
            return issue_crl(session, ca, self.key(signer_role), at=at,
                             signer=self.certificate(signer_role))
        return issue_crl(session, ca, self.key(ca_role), at=at)

    def certificates(self) -> list[CertificateRecord]:
        from sqlalchemy import select

        with self.registry.session() as session:
            return list(session.execute(select(CertificateRecord).order_by(
                CertificateRecord.role)).scalars())

    def close(self) -> None:
        flusher, self._head_flusher, self.audit_heads = self._head_flusher, None, None
        if flusher is not None:  # stragglers now sign their own heads
            flusher.stop()
        self.stores.close()
        self.registry.close()
