"""The risk service: the live engine over HTTP, with per-account keys and a dashboard.

The only asynchronous code of crossmargin, and the top layer beside the CLI: it decodes
requests with the library, hands the records to the engine's single writer thread and renders
the library's answers. No margin logic lives here.

* :mod:`~crossmargin.service.app` — ``create_app(config)``, the FastAPI application;
* :mod:`~crossmargin.service.api` — the JSON API under ``/v1``;
* :mod:`~crossmargin.service.dashboard` — the HTML dashboard (htmx + SSE, vendored assets);
* :mod:`~crossmargin.service.worker` — the engine thread, its inbox and group commit;
* :mod:`~crossmargin.service.hub` — event fan-out to streams, latency statistics;
* :mod:`~crossmargin.service.auth` — bearer keys, dashboard sessions, CSRF;
* :mod:`~crossmargin.service.inputs` — request bodies → input records (through the library);
* :mod:`~crossmargin.service.server` — uvicorn (``crossmargin serve``);
* :mod:`~crossmargin.service.lease` — one writer per database.

See docs/service.md (API, security model, deployment) and docs/api.md (the reference).
"""

from crossmargin.service.app import create_app
from crossmargin.service.config import ServiceConfig, load_admin_key

__all__ = ["ServiceConfig", "create_app", "load_admin_key"]
