"""Query suggestions: weighted terms for a description, from the local LLM or the rules."""

from __future__ import annotations

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.requests import Request

from routes.common import UserError, clear_error, services
from routes.search import search_hits
from ui.form import SearchState
from ui.suggestions import SuggestionPanel

router = APIRouter()


@router.get("/suggest")
def suggest(req: Request):  # noqa: ANN201
    """Suggested terms for the description (the search box, or the panel's own on 'More like these
    results', which also looks at the current search's top results)."""
    svc, qp = services(req), req.query_params
    description = (qp.get("description") or qp.get("q") or "").strip()
    more = None
    if qp.get("more") == "1":
        st = SearchState.from_params(qp)
        more = [h.image.id for h in search_hits(svc, st, st.query_terms() + st.rows)[:12]]
        if not more:
            raise UserError(400, "“More like these results” needs results: search first")
    sug = svc.suggest(description, more_like=more)
    return SuggestionPanel(sug, description, svc.style_available()[0]), clear_error()
