"""Services that use licences (事项用证清单): definitions as data, forms filled from licences.

    >>> from signing.types import builtin_types
    >>> catalogue = load_services(builtin_types())
    >>> service = catalogue.get("GTGSH-SETUP")
    >>> sorted(service.scope()["RIC"])[:2]
    ['address', 'ethnicity']

A service definition names the licence types it needs (all of / one of), its
form as JSON Schema 2020-12 and a mapping from licence fields to form fields in
a small data-only expression language (:mod:`api.services._mapping`). The
grant scope is computed from the mapping (:meth:`ServiceDefinition.scope`), and
:func:`fill_form` fills the form from verified licences with per-field
provenance. This package lives in ``api`` because filling needs both the type
catalogue (``signing``) and the verifier's verdict (``verification``).
"""

from api.services._catalogue import ServiceCatalogue, load_services, parse_service
from api.services._fill import FilledForm, SourcedLicence, fill_form
from api.services._home import catalogue_for, types_for
from api.services._local import fill_from_registry
from api.services._mapping import BUILTIN_TABLES, FUNCTIONS, format_date
from api.services._model import ServiceDefinition
from api.services.errors import ServiceDefinitionError

__all__ = [
    "BUILTIN_TABLES",
    "FUNCTIONS",
    "FilledForm",
    "ServiceCatalogue",
    "ServiceDefinition",
    "ServiceDefinitionError",
    "SourcedLicence",
    "catalogue_for",
    "fill_form",
    "fill_from_registry",
    "format_date",
    "load_services",
    "parse_service",
    "types_for",
]
