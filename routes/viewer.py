"""The viewer and Find similar: a picture's preview with its score explained, and the pictures like it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.requests import Request

from routes.common import UserError, clear_error, image_id, is_htmx, services, viewer
from routes.search import full_page
from search.options import check_balance, check_k, check_pages, check_radius, more_pages, shown
from ui.form import SearchState, parse_float, parse_int
from ui.results import Results

router = APIRouter()


@router.get("/similar")
def similar(  # noqa: ANN201
    req: Request,
    id: str = "",  # noqa: A002
    k: str = "24",
    balance: str = "0",
    within_km: str = "",
    pages: str = "1",
):
    """The pictures like one, k a page; a full list goes on as it scrolls (pages=N, as the search's)."""
    if not id:
        raise UserError(400, "similar needs an image id, e.g. /similar?id=12")
    svc = services(req)
    iid, kk = image_id(id), check_k(parse_int(k, "k"))
    pp = check_pages(parse_int(pages, "pages"), kk)
    bal = check_balance(parse_float(balance, "balance"))
    radius = check_radius(parse_float(within_km, "within_km")) if within_km.strip() else None
    row = svc.image(iid)
    if row is None or row.status != "indexed":
        raise UserError(404, f"no indexed image with id {iid}")
    hits = svc.similar(iid, shown(kk, pp), bal, radius)
    how = {0.0: "", 1.0: " in style"}.get(bal, f" (style balance {bal:g})")
    how += f" within {radius:g} km" if radius is not None else ""
    more = [("id", str(iid)), ("k", str(kk)), ("pages", str(pp + 1)), ("balance", f"{bal:g}")]
    more += [("within_km", f"{radius:g}")] if radius is not None else []
    results = Results(
        svc.records(hits),
        f"{len(hits)} images similar{how} to {Path(row.path).name}",
        more_url="/similar?" + urlencode(more) if more_pages(len(hits), kk, pp) else "",
    )
    return (results, clear_error()) if is_htmx(req) else full_page(svc, SearchState(), results, req)


@router.get("/preview")
def preview(req: Request, id: str = "", q: str = "", balance: str = "0.5", part: str = ""):  # noqa: ANN201, A002
    """The viewer (part=dialog: its content alone, for previous/next)."""
    bal = check_balance(parse_float(balance, "balance"))
    return viewer(services(req), id, q[:2000], bal, dialog=part == "dialog")
