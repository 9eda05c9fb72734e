"""The web app: builds FastHTML, mounts only ui/static, and wires thin routes to the StyleSeek services."""

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
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from indexing.imageio import ImageError
from models import CONTENT, ModelError, WeightsMissingError
from models import weights as model_weights
from search.engine import MAX_K, QueryError
from search.records import image_record
from services import StyleSeek
from settings import Settings
from ui.components import Counts, ErrorFragment, FolderList, Headers, MainPage, PreviewModal, ProgressView, Results

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "ui" / "static"


class UserError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def int_param(value: str, name: str, lo: int, hi: int) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise UserError(400, f"{name} must be a whole number, got {value!r}") from None
    if not lo <= n <= hi:
        raise UserError(400, f"{name} must be between {lo} and {hi}, got {n}")
    return n


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error_response(request: Request, status: int, message: str) -> Response:
    if _is_htmx(request):
        # errors land in one slot at the top, whatever the request targeted
        return HTMLResponse(
            to_xml(ErrorFragment(message)),
            status_code=status,  # noqa: F405
            headers={"HX-Retarget": "#error-slot", "HX-Reswap": "innerHTML"},
        )
    page = Html(
        Head(*Headers(), Title("StyleSeek: error")),  # noqa: F405
        Body(
            Div(
                ErrorFragment(message),
                A("Back to search", href="/", cls="uk-link"),  # noqa: F405
                cls="max-w-screen-md mx-auto p-6",
            )
        ),
    )
    return HTMLResponse(to_xml(page), status_code=status)  # noqa: F405


def create_app(settings: Settings | None = None, services: StyleSeek | None = None, warm: bool = False) -> FastHTML:  # noqa: F405
    settings = settings or Settings()
    svc = services or StyleSeek(settings)

    async def on_user_error(request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, UserError) else 400
        return _error_response(request, status, str(exc))

    async def on_not_found(request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", "") or "not found"
        return _error_response(request, 404, f"Not found: {request.url.path} ({detail})")

    async def on_model_error(request: Request, exc: Exception) -> Response:
        return _error_response(request, 503, str(exc))

    async def on_server_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return _error_response(request, 500, f"Something went wrong: {type(exc).__name__}. The log has the details.")

    def same_origin_posts(req: Request):  # noqa: ANN202
        # a page from another site must not be able to start indexing on this machine
        if req.method == "POST":
            origin = req.headers.get("origin")
            if origin and urlparse(origin).netloc != req.headers.get("host"):
                return _error_response(req, 403, "cross-site request refused")
        return None

    app = FastHTML(  # noqa: F405 - FastHTML, not fast_app: fast_app serves the project root as static files
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

    if warm:  # load the model and the index in the background so the first search is quick

        def _warm() -> None:
            try:
                svc.encoder.load()
                _ = svc.index
            except Exception as e:  # noqa: BLE001 - the page shows the model notice instead
                log.warning("warm-up: %s", e)

        threading.Thread(target=_warm, daemon=True).start()

    # helpers -----------------------------------------------------------------------------------------
    def counts() -> dict:
        return {"indexed": svc.catalog.count("indexed"), "failed": svc.catalog.count("error")}

    def folders() -> list[dict]:
        return [{"path": f.path, "indexed": f.indexed, "failed": f.failed} for f in svc.catalog.folder_stats()]

    def model_note() -> tuple[str, str] | None:
        st = model_weights.locate(CONTENT, settings)
        if not st.present:
            return ("error", model_weights.missing_message(CONTENT, settings))
        if st.random_weights:
            return (
                "warning",
                "Test models in use (random weights): search results are meaningless. "
                "Run `styleseek models download` for the real CLIP weights.",
            )
        return None

    def progress_snapshot():  # noqa: ANN202
        return svc.job.progress.snapshot() if svc.job else None

    def hit_records(hits) -> list[dict]:  # noqa: ANN001
        return [{**image_record(h.image, svc.thumbs), "score": h.score} for h in hits]

    def full_page(q: str, k: int, results: FT) -> tuple:  # noqa: F405
        return MainPage(q, k, results, counts(), folders(), progress_snapshot(), model_note())

    def run_search(q: str, k: int) -> FT:  # noqa: F405
        if not q.strip():
            return Results([], "")
        hits = svc.search(q, k)
        return Results(
            hit_records(hits),
            f"{len(hits)} results for “{q.strip()}”",
            empty=f"Nothing indexed matches “{q.strip()}” yet." if svc.catalog.count("indexed") else "",
        )

    def run_similar(image_id: int, k: int) -> FT:  # noqa: F405
        row = svc.image(image_id)
        if row is None or row.status != "indexed":
            raise UserError(404, f"no indexed image with id {image_id}")
        hits = svc.similar(image_id, k)
        return Results(hit_records(hits), f"{len(hits)} images similar to {Path(row.path).name}")

    def indexed_row(image_id: str):  # noqa: ANN202
        iid = int_param(image_id, "id", 1, 2**62)
        row = svc.image(iid)
        if row is None or row.status != "indexed":
            raise UserError(404, f"no indexed image with id {iid}")
        return row

    def clear_error() -> FT:  # noqa: F405
        return Div(id="error-slot", hx_swap_oob="true")  # noqa: F405

    # routes ------------------------------------------------------------------------------------------
    @app.get("/")
    def index(q: str = "", k: str = "24") -> tuple:
        kk = int_param(k, "k", 1, MAX_K)
        try:
            results = run_search(q, kk)
        except ModelError as e:  # the page still renders; the notice at the top says how to fix it
            results = Div(ErrorFragment(str(e)), id="results")
        return full_page(q, kk, results)

    @app.get("/search")
    def search(request: Request, q: str = "", k: str = "24"):  # noqa: ANN201
        kk = int_param(k, "k", 1, MAX_K)
        results = run_search(q, kk)
        return (results, clear_error()) if _is_htmx(request) else full_page(q, kk, results)

    @app.get("/similar")
    def similar(request: Request, id: str = "", k: str = "24"):  # noqa: ANN201, A002 - the URL says id
        if not id:
            raise UserError(400, "similar needs an image id, e.g. /similar?id=12")
        kk = int_param(k, "k", 1, MAX_K)
        results = run_similar(int_param(id, "id", 1, 2**62), kk)
        return (results, clear_error()) if _is_htmx(request) else full_page("", kk, results)

    @app.get("/preview")
    def preview(id: str = ""):  # noqa: ANN201, A002
        row = indexed_row(id)
        return PreviewModal(image_record(row, svc.thumbs))

    @app.get("/thumb/{image_id}")
    def thumb(image_id: str) -> Response:
        row = indexed_row(image_id)
        try:
            data = svc.thumbnail(row)
        except (OSError, ImageError) as e:
            raise UserError(404, f"the file of image {row.id} is no longer readable: {e}") from e
        return Response(data, media_type="image/webp", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/full/{image_id}")
    def full(image_id: str) -> Response:
        row = indexed_row(image_id)
        try:
            data = svc.preview(row)
        except (OSError, ImageError) as e:
            raise UserError(404, f"the file of image {row.id} is no longer readable: {e}") from e
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/counts")
    def get_counts():  # noqa: ANN202
        return Counts(counts())

    @app.get("/folders")
    def get_folders():  # noqa: ANN202
        return FolderList(folders())

    @app.post("/index_start")
    def index_start(path: str = ""):  # noqa: ANN202
        p = path.strip()
        if not p:
            raise UserError(400, "Enter the path of a folder to index.")
        folder = Path(p).expanduser()
        if not folder.is_absolute():
            raise UserError(400, f"Use an absolute folder path (got {p!r}).")
        if not folder.is_dir():
            raise UserError(400, f"Not a folder on this machine: {p}")
        try:
            job = svc.start_indexing([folder])
        except RuntimeError as e:
            raise UserError(409, str(e)) from e
        return ProgressView(job.progress.snapshot()), clear_error()

    @app.get("/index_progress")
    def index_progress() -> Response:
        snap = progress_snapshot()
        headers = {}
        if snap is not None and not snap.running:
            headers["HX-Trigger"] = "folders-changed"  # the folder list and counts refresh once, at the end
        return HTMLResponse(to_xml(ProgressView(snap)), headers=headers)  # noqa: F405

    @app.post("/index_cancel")
    def index_cancel():  # noqa: ANN202
        if svc.job is None or not svc.job.running:
            raise UserError(409, "No indexing run is in progress.")
        svc.job.cancel.set()
        return ProgressView(svc.job.progress.snapshot())

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
