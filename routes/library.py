"""The Library panel: start indexing a folder, its live progress, cancelling, the folders and the counts."""

from __future__ import annotations

from pathlib import Path

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from routes.common import UserError, clear_error, image_id, services
from ui.library import Counts, FolderErrors, FolderList, ProgressView

router = APIRouter()


@router.post("/index_start")
def index_start(req: Request, path: str = ""):  # noqa: ANN201
    p = path.strip()
    if not p:
        raise UserError(400, "Enter the path of a folder to index.")
    folder = Path(p).expanduser()
    if not folder.is_absolute():
        raise UserError(400, f"Use an absolute folder path (got {p!r}).")
    if not folder.is_dir():
        raise UserError(400, f"Not a folder on this machine: {p}")
    try:
        job = services(req).start_indexing([folder])
    except RuntimeError as e:
        raise UserError(409, str(e)) from e
    return ProgressView(job.progress.snapshot()), clear_error("library-error")


@router.get("/index_progress")
def index_progress(req: Request) -> Response:
    snap = services(req).progress()
    headers = {}
    if snap is not None and not snap.running:
        headers["HX-Trigger"] = "folders-changed"  # the folder list and counts refresh once, at the end
    return HTMLResponse(to_xml(ProgressView(snap)), headers=headers)


@router.post("/index_cancel")
def index_cancel(req: Request):  # noqa: ANN201
    try:
        return ProgressView(services(req).cancel_indexing())
    except RuntimeError as e:
        raise UserError(409, str(e)) from e


@router.get("/counts")
def counts(req: Request):  # noqa: ANN201
    return Counts(services(req).counts())


@router.get("/folders")
def folders(req: Request):  # noqa: ANN201
    return FolderList(services(req).folders())


@router.post("/folder_remove")
def folder_remove(req: Request, id: str = ""):  # noqa: ANN201, A002
    """The folder leaves the library (its pictures leave the index; the files are not touched)."""
    svc = services(req)
    try:
        svc.remove_folder(image_id(id))
    except RuntimeError as e:
        raise UserError(409, str(e)) from e
    except LookupError as e:
        raise UserError(404, str(e)) from e
    return HTMLResponse(to_xml(FolderList(svc.folders())), headers={"HX-Trigger": "folders-changed"})


@router.get("/folder_errors")
def folder_errors(req: Request, id: str = ""):  # noqa: ANN201, A002
    """The files of a folder that could not be indexed, and why."""
    return FolderErrors(services(req).folder_errors(image_id(id)))
