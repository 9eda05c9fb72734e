"""What every router shares: the services of the request's app, errors with their HTTP status, and how an
error reaches the page (htmx: into the error slot; otherwise a small page)."""

from __future__ import annotations

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from indexing.catalog import ImageRow
from search.options import PICTURE_BALANCE
from services import StyleSeek
from ui.form import parse_int
from ui.widgets import ErrorFragment, Headers


class UserError(Exception):
    """A request the user has to change; `status` is the HTTP status (404, 409, ...), the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def services(req: Request) -> StyleSeek:
    return req.app.state.services


def is_htmx(req: Request) -> bool:
    """A partial is wanted: an htmx request, except the one htmx sends to restore a page its history cache
    lost (Back), which replaces the whole body and so needs the whole page."""
    return req.headers.get("HX-Request") == "true" and req.headers.get("HX-History-Restore-Request") != "true"


def image_id(value: str) -> int:
    n = parse_int(value, "id")
    if not 1 <= n <= 2**62:
        raise UserError(400, f"id must be between 1 and {2**62}, got {n}")
    return n


def indexed_row(svc: StyleSeek, value: str) -> ImageRow:
    """The indexed image of an id from the request; a 404 for anything else (failed files are not served)."""
    iid = image_id(value)
    row = svc.image(iid)
    if row is None or row.status != "indexed":
        raise UserError(404, f"no indexed image with id {iid}")
    return row


def viewer(svc: StyleSeek, value: str, q: str = "", balance: float = PICTURE_BALANCE, dialog: bool = False) -> FT:
    """The viewer of an indexed picture, with its score explained for the query `q` if one is given; the
    dialog alone when stepping from picture to picture (the modal stays open)."""
    from search.query import parse_query
    from ui.preview import PreviewDialog, PreviewModal

    row = indexed_row(svc, value)
    breakdown = None
    if q.strip():
        hit = svc.searcher().explain(parse_query(q), row.id, picture_balance=balance)
        breakdown = (hit.contributions(), hit.score)
    make = PreviewDialog if dialog else PreviewModal
    return make(svc.record(row), breakdown, svc.style_available()[0], balance, svc.settings.time_display)


# errors land beside the control that caused them: the Library's under the Library, the rest under the search bar
LIBRARY_PATHS = ("/index_", "/folder")


def error_slot(path: str) -> str:
    return "library-error" if path.startswith(LIBRARY_PATHS) else "error-slot"


def clear_error(slot: str = "error-slot") -> FT:
    """Sent beside a good answer: clears an earlier error from the slot."""
    return Div(id=slot, hx_swap_oob="true", role="alert")


def error_response(req: Request, status: int, message: str) -> Response:
    if is_htmx(req):  # errors land in one slot at the top, whatever the request targeted
        return HTMLResponse(
            to_xml(ErrorFragment(message)),
            status_code=status,
            headers={"HX-Retarget": f"#{error_slot(req.url.path)}", "HX-Reswap": "innerHTML"},
        )
    page = Html(
        Head(*Headers(), Title("StyleSeek: error")),
        Body(
            Div(
                ErrorFragment(message),
                A("Back to search", href="/", cls="uk-link"),
                cls="max-w-screen-md mx-auto p-6",
            )
        ),
    )
    return HTMLResponse(to_xml(page), status_code=status)
