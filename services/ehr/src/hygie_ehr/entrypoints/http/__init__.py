"""openEHR REST API (ITS-REST 1.0.3) of the EHR store."""

from . import admin, compositions, contributions, directory, ehr, manifest, templates

ROUTERS = [
    ehr.router,
    templates.router,
    compositions.router,
    contributions.router,
    directory.router,
    manifest.router,
    admin.router,
]

__all__ = ["ROUTERS"]
