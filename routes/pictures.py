"""Searching with pictures: a picture dropped, pasted or picked on the page is embedded now and named in the
query by its content hash ('like: @3f9a…'); its vectors are kept (indexing/dropped.py), never the picture."""

from __future__ import annotations

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse

from indexing.imageio import ImageError
from routes.common import UserError, services

router = APIRouter()

MAX_PICTURE_BYTES = 200 * 2**20  # a big RAW or a scan; more is no photo to search by


@router.post("/picture")
async def picture(req: Request) -> JSONResponse:
    """The picture in the form's `file`: its reference for a `like:` term, e.g. {"ref": "@3f9a…"}."""
    if int(req.headers.get("content-length") or 0) > MAX_PICTURE_BYTES:
        raise UserError(413, f"the picture is larger than {MAX_PICTURE_BYTES >> 20} MB")
    form = await req.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise UserError(400, "send the picture as the form field 'file' (drop, paste or pick one)")
    data = await upload.read()
    if not data:
        raise UserError(400, "the picture is empty")
    try:
        # decoding and embedding take a while on a CPU: off the event loop, so other requests go on
        ref = await run_in_threadpool(services(req).remember_picture, data, upload.filename or "")
    except ImageError as e:
        raise UserError(400, f"cannot search by {upload.filename or 'this file'}: {e}") from e
    return JSONResponse({"ref": ref})
