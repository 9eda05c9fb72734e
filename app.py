"""The web app: FastHTML with only ui/static mounted, local hosts only, same-origin POSTs, error handlers, and the
routers of routes/ (search, viewer, pictures, suggestions, library, images), each a thin call into the
services."""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path
from urllib.parse import urlparse

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from models import CONTENT, ModelError, WeightsMissingError
from models import weights as model_weights
from routes import ROUTERS
from routes.common import UserError, error_response
from search.errors import QueryError
from services import StyleSeek
from settings import Settings
from ui.widgets import Headers

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "ui" / "static"


async def on_user_error(request: Request, exc: Exception) -> Response:
    return error_response(request, exc.status if isinstance(exc, UserError) else 400, str(exc))


async def on_not_found(request: Request, exc: Exception) -> Response:
    detail = getattr(exc, "detail", "") or "not found"
    return error_response(request, 404, f"Not found: {request.url.path} ({detail})")


async def on_model_error(request: Request, exc: Exception) -> Response:
    return error_response(request, 503, str(exc))


async def on_server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(request, 500, f"Something went wrong: {type(exc).__name__}. The log has the details.")


def same_origin_posts(req: Request) -> Response | None:
    """A page from another site must not be able to start indexing on this machine."""
    if req.method == "POST":
        origin = req.headers.get("origin")
        if origin and urlparse(origin).netloc != req.headers.get("host"):
            return error_response(req, 403, "cross-site request refused")
    return None


def warm_up(svc: StyleSeek) -> None:
    """Load the text tower, the index and the suggestion model in the background: the first search is quick."""
    try:
        svc.encoder.warm()
        _ = svc.index
    except Exception as e:  # noqa: BLE001 - the page shows the model notice instead
        log.warning("warm-up: %s", e)
    try:
        svc.warm_suggestions()
    except Exception as e:  # noqa: BLE001 - suggestions fall back to the rules and say why
        log.warning("warm-up of the suggestion model: %s", e)


def create_app(settings: Settings | None = None, services: StyleSeek | None = None, warm: bool = False) -> FastHTML:
    settings = settings or Settings()
    svc = services or StyleSeek(settings)
    app = FastHTML(  # FastHTML, not fast_app: fast_app serves the project root as static files
        hdrs=Headers(),
        default_hdrs=False,
        title="StyleSeek",
        canonical=False,
        secret_key=secrets.token_hex(32),
        before=[Beforeware(same_origin_posts)],
        exception_handlers={
            UserError: on_user_error,
            QueryError: on_user_error,
            404: on_not_found,
            ModelError: on_model_error,
            500: on_server_error,
        },
    )
    hosts = sorted({"127.0.0.1", "localhost", "::1", "[::1]", settings.host})
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["*"] if settings.host in ("0.0.0.0", "::") else hosts)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.services = svc
    for router in ROUTERS:
        router.to_app(app)
    if warm:
        threading.Thread(target=warm_up, args=(svc,), daemon=True).start()
    return app


def _warn_missing(settings: Settings) -> None:
    try:
        model_weights.resolve(CONTENT, settings)
    except WeightsMissingError as e:
        print(f"warning: {e}")


if __name__ == "__main__":  # `python app.py`: uvicorn on 127.0.0.1 (never serve(), which re-runs this module)
    import uvicorn

    s = Settings()
    _warn_missing(s)
    print(f"StyleSeek on http://{s.host}:{s.port}  (data: {s.resolved_data_dir})")
    uvicorn.run(create_app(s, warm=True), host=s.host, port=s.port, log_level="warning")
