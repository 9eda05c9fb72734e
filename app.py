"""The web app: builds FastHTML, mounts only ui/static, and wires thin routes to the StyleSeek services."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode, urlparse

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from geo.geocoder import GEOCODER, UnknownPlace, understood
from indexing.imageio import ImageError
from models import CONTENT, ModelError, WeightsMissingError
from models import weights as model_weights
from search.engine import MAX_K, SORTS, Filters
from search.grouping import group_by_place
from search.query import (
    QueryError,
    Term,
    apply_balance,
    format_query,
    make_term,
    parse_query,
    with_place,
)
from search.records import image_record
from services import StyleSeek
from settings import Settings
from ui.components import (
    Counts,
    ErrorFragment,
    FolderList,
    Headers,
    MainPage,
    PlaceLabel,
    PlaceNote,
    PreviewModal,
    ProgressView,
    Results,
    SearchState,
    SuggestionPanel,
    TermRow,
)

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "ui" / "static"


class UserError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def float_param(value: str, name: str, lo: float, hi: float) -> float:
    try:
        x = float(str(value).strip())
    except ValueError:
        raise UserError(400, f"{name} must be a number, got {value!r}") from None
    if not lo <= x <= hi:  # NaN fails this too
        raise UserError(400, f"{name} must be between {lo:g} and {hi:g}, got {value}")
    return x


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
                svc.encoder.warm()  # the text tower: the first search is then as quick as the next
                _ = svc.index
            except Exception as e:  # noqa: BLE001 - the page shows the model notice instead
                log.warning("warm-up: %s", e)
            try:
                svc.warm_suggestions()
            except Exception as e:  # noqa: BLE001 - suggestions fall back to the rules and say why
                log.warning("warm-up of the suggestion model: %s", e)

        threading.Thread(target=_warm, daemon=True).start()

    # helpers -----------------------------------------------------------------------------------------
    def counts() -> dict:
        return {
            "indexed": svc.catalog.count("indexed"),
            "failed": svc.catalog.count("error"),
            "spaces": svc.space_status(),
        }

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
        return [{**image_record(h.image, svc.thumbs), "score": h.score, "by_model": h.by_model} for h in hits]

    def style_state() -> tuple[bool, str]:
        if "style" in svc.encoders:
            return True, ""
        return False, (
            "Style search is unavailable: the style models are not installed or are turned off "
            "(`styleseek models status`). Content terms work as usual."
        )

    def search_state(request: Request | None = None) -> SearchState:
        """The search form's fields from the query string, validated: anything malformed is a 400 that says
        what to fix. (Read from the request: a dozen typed handler parameters would repeat on three routes.)"""
        qp = request.query_params if request is not None else {}
        one = qp.get if request is not None else (lambda _k, d="": d)
        many = qp.getlist if request is not None else (lambda _k: [])
        text, target, weight = many("text"), many("target"), many("weight")
        if not (len(text) == len(target) == len(weight)):
            raise UserError(400, "each term needs a text, a target and a weight")
        rows = []
        for tx, tg, w in zip(text, target, weight, strict=True):
            if not tx.strip():
                continue  # an empty row in the builder is simply not used
            rows.append(make_term(tx, tg, float_param(w, "weight", -1.0, 1.0)))
        sort = one("sort", "score")
        if sort not in SORTS:
            raise UserError(400, f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
        min_score = one("min_score", "").strip()
        ok, note = style_state()
        st = SearchState(
            q=one("q", ""),
            k=int_param(one("k", "24"), "k", 1, MAX_K),
            rows=rows,
            balance=float_param(one("balance", "0.5"), "balance", 0.0, 1.0),
            sort=sort,
            coherence=one("coherence", "").lower() in ("1", "on", "true"),
            min_score=float_param(min_score, "min_score", -1.0, 1.0) if min_score else None,
            drop_unplaced=one("unplaced", "keep") == "drop",
            group_by_place=one("group", "") == "place",
            show_map=one("map", "") == "1",
            taken_from=one("taken_from", "").strip(),
            taken_to=one("taken_to", "").strip(),
            camera=one("camera", "").strip()[:100],
            style_ok=ok,
            style_note=note,
        )
        filters(st)  # validates the dates now, so a bad one is a 400 even on an empty query
        return st

    def filters(st: SearchState) -> Filters:
        return Filters(
            unplaced="drop" if st.drop_unplaced else "keep",
            taken_from=st.taken_from or None,
            taken_to=st.taken_to or None,
            camera=st.camera or None,
        )

    def full_page(st: SearchState, results: FT) -> tuple:  # noqa: F405
        return MainPage(st, results, counts(), folders(), progress_snapshot(), model_note())

    def query_terms(st: SearchState) -> tuple[list[Term], list[Term]]:
        """(the one-line query's terms, those followed by the builder's rows), parsed once per request."""
        q_terms = parse_query(st.q) if st.q.strip() else []
        return q_terms, q_terms + st.rows

    def search_hits(st: SearchState, terms: list[Term]) -> list:  # noqa: F405
        """The hits of the terms (the one-line query's, then the builder's) under the state's options."""
        if not terms:
            return []
        return svc.search(
            apply_balance(terms, st.balance),
            st.k,
            min_score=st.min_score,
            sort=st.sort,
            coherence=0.5 if st.coherence else 0.0,
            filters=filters(st),
        )

    def run_search(st: SearchState) -> FT:  # noqa: F405
        q_terms, terms = query_terms(st)
        if not terms:
            return Results([], "")
        effective = apply_balance(terms, st.balance)
        hits = search_hits(st, terms)
        label = format_query(terms)
        places = [place_note(st, q_terms, i, t) for i, t in enumerate(terms) if t.target == "location"]
        records = hit_records(hits)
        return Results(
            records,
            f"{len(hits)} results for “{label}”",
            empty=f"Nothing indexed matches “{label}” yet." if svc.catalog.count("indexed") else "",
            query=format_query(effective),
            notes=places,
            groups=group_by_place(records) if st.group_by_place else None,
            show_map=st.show_map,
        )

    def place_note(st: SearchState, q_terms: list[Term], i: int, t: Term) -> FT:  # noqa: F405
        """How the i-th term's place was understood; each other place of that name links to the same search
        with the term pointed at it (in the one-line query or in the builder row it came from)."""
        area = GEOCODER.resolve_term(t.text)
        links = []
        for alt in area.alternatives:
            picked = with_place(t, alt)
            if i < len(q_terms):
                new = replace(st, q=format_query([picked if j == i else x for j, x in enumerate(q_terms)]))
            else:
                rows = list(st.rows)
                rows[i - len(q_terms)] = picked
                new = replace(st, rows=rows)
            links.append((alt, "/?" + urlencode(new.to_params())))
        return PlaceNote(t.text, area.label, links)

    def run_similar(image_id: int, k: int, balance: float, within_km: float | None = None) -> FT:  # noqa: F405
        row = svc.image(image_id)
        if row is None or row.status != "indexed":
            raise UserError(404, f"no indexed image with id {image_id}")
        hits = svc.similar(image_id, k, balance, within_km)
        how = {0.0: "", 1.0: " in style"}.get(balance, f" (style balance {balance:g})")
        if within_km is not None:
            how += f" within {within_km:g} km"
        return Results(hit_records(hits), f"{len(hits)} images similar{how} to {Path(row.path).name}")

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
    def index(request: Request) -> tuple:
        st = search_state(request)
        try:
            results = run_search(st)
        except ModelError as e:  # the page still renders; the notice at the top says how to fix it
            results = Div(ErrorFragment(str(e)), id="results")
        return full_page(st, results)

    @app.get("/search")
    def search(request: Request):  # noqa: ANN201
        st = search_state(request)
        results = run_search(st)
        return (results, clear_error()) if _is_htmx(request) else full_page(st, results)

    @app.get("/suggest")
    def suggest(request: Request):  # noqa: ANN201
        """Suggested terms for the description (the search box, or the panel's own on 'More like these
        results', which also looks at the current search's top results)."""
        qp = request.query_params
        description = (qp.get("description") or qp.get("q") or "").strip()
        more = None
        if qp.get("more") == "1":
            st = search_state(request)
            more = [h.image.id for h in search_hits(st, query_terms(st)[1])[:12]]
            if not more:
                raise UserError(400, "“More like these results” needs results: search first")
        sug = svc.suggest(description, more_like=more)
        return SuggestionPanel(sug, description, style_state()[0]), clear_error()

    @app.get("/place_label")
    def place_label(text: str = "", target: str = ""):  # noqa: ANN201
        """The builder row's place, as understood; a hint, so an unknown place is said, not a 4xx."""
        if target != "location" or not text.strip():
            return PlaceLabel("")
        try:
            area = GEOCODER.resolve_term(text[:300])
        except UnknownPlace as e:
            return PlaceLabel(str(e), error=True)
        return PlaceLabel(f"→ {understood(area)}")

    @app.get("/term_row")
    def term_row():  # noqa: ANN202
        return TermRow(None, style_state()[0])

    @app.get("/similar")
    def similar(request: Request, id: str = "", k: str = "24", balance: str = "0", within_km: str = ""):  # noqa: ANN201, A002
        if not id:
            raise UserError(400, "similar needs an image id, e.g. /similar?id=12")
        kk = int_param(k, "k", 1, MAX_K)
        radius = float_param(within_km, "within_km", 0.001, 20_000) if within_km.strip() else None
        results = run_similar(int_param(id, "id", 1, 2**62), kk, float_param(balance, "balance", 0.0, 1.0), radius)
        if _is_htmx(request):
            return results, clear_error()
        return full_page(search_state(), results)

    @app.get("/preview")
    def preview(id: str = "", q: str = "", balance: str = "0.5"):  # noqa: ANN201, A002
        row = indexed_row(id)
        breakdown = None
        if q.strip():
            hit = svc.searcher().explain(parse_query(q), row.id)
            breakdown = (hit.contributions(), hit.score)
        return PreviewModal(
            image_record(row, svc.thumbs),
            breakdown,
            style_state()[0],
            float_param(balance, "balance", 0.0, 1.0),
            settings.time_display,
        )

    def image_response(image_id: str, render, media_type: str, max_age: int) -> Response:  # noqa: ANN001
        row = indexed_row(image_id)
        try:
            data = render(row)
        except (OSError, ImageError) as e:
            raise UserError(404, f"the file of image {row.id} is no longer readable: {e}") from e
        return Response(data, media_type=media_type, headers={"Cache-Control": f"private, max-age={max_age}"})

    @app.get("/thumb/{image_id}")
    def thumb(image_id: str) -> Response:
        return image_response(image_id, svc.thumbnail, "image/webp", 86400)

    @app.get("/full/{image_id}")
    def full(image_id: str) -> Response:
        return image_response(image_id, svc.preview, "image/jpeg", 3600)

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
