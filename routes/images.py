"""Pictures by id, never by a path from the request: thumbnails and the viewer's upright full image."""

from __future__ import annotations

from collections.abc import Callable

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.requests import Request
from starlette.responses import Response

from indexing.catalog import ImageRow
from indexing.imageio import ImageError
from indexing.thumbs import media_type
from routes.common import UserError, indexed_row, services

router = APIRouter()


def image_response(
    req: Request, value: str, render: Callable[[ImageRow], bytes], media: str | None, age: int
) -> Response:
    """media None: told by the bytes (a thumbnail is WebP or JPEG)."""
    row = indexed_row(services(req), value)
    try:
        data = render(row)
    except (OSError, ImageError) as e:
        raise UserError(404, f"the file of image {row.id} is no longer readable: {e}") from e
    return Response(data, media_type=media or media_type(data), headers={"Cache-Control": f"private, max-age={age}"})


@router.get("/thumb/{image_id}")
def thumb(req: Request, image_id: str) -> Response:
    return image_response(req, image_id, services(req).thumbnail, None, 86400)


@router.get("/full/{image_id}")
def full(req: Request, image_id: str) -> Response:
    return image_response(req, image_id, services(req).preview, "image/jpeg", 3600)
