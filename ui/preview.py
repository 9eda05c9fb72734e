"""The viewer: the picture, what is known about it, why it matched, and Find similar."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui
from monsterui.all import *  # noqa: F403

from geo.gazetteer import place_label
from search.options import PICTURE_BALANCE
from search.records import orientation_text, taken_text
from ui.results import ContributionBar
from ui.widgets import MODEL_NAMES, DetailRow, IconButton


def Breakdown(contrib: dict, score: float) -> FT:
    """The full breakdown of one image's score: each term's similarity and share, and each model's total."""
    rows = [
        Tr(
            Td(t["text"]),
            Td(MODEL_NAMES.get(t["target"], t["target"])),
            Td(f"{t['weight']:+.2f}"),
            Td("—" if t["similarity"] is None else f"{t['similarity']:.3f}"),
            Td(f"{t['contribution']:+.3f}"),
            cls="tabular-nums",
        )
        for t in contrib["terms"]
    ]
    models = " · ".join(f"{MODEL_NAMES.get(m, m)} {v:+.3f}" for m, v in contrib["models"].items())
    return Div(
        H4(f"Why it matched: score {score:.3f}", cls="text-sm font-medium"),
        Table(
            Thead(Tr(Th("term"), Th("model"), Th("weight"), Th("similarity"), Th("share"))),
            Tbody(*rows),
            cls="text-xs w-full mt-1",
            id="breakdown",
        ),
        P(models, cls="text-xs text-muted-foreground mt-1"),
        ContributionBar(contrib["models"]),
        cls="mt-4",
    )


def SimilarButton(image_id: int, label: str, balance: float, primary: bool = False, **kw: Any) -> FT:
    return Button(
        label,
        cls=(ButtonT.primary if primary else ButtonT.default, "uk-modal-close"),
        type="button",
        hx_get=f"/similar?id={image_id}&balance={balance:g}",
        hx_target="#results",
        hx_swap="outerHTML",
        hx_push_url="true",
        **kw,
    )


def TakenValue(rec: dict, time_display: str) -> FT:
    """The time taken on the chosen clock, and on the other one beneath it where the offset is known."""
    main = taken_text(rec, time_display)
    other = taken_text(rec, "here" if time_display == "taken" else "taken") if rec.get("taken_at_utc") else None
    return Div(main, *([Div(other, cls="text-xs text-muted-foreground")] if other and other != main else []))


def Sources(rec: dict) -> FT | str:
    """Where values came from, where it was not the EXIF: 'GPS: XMP sidecar IMG_1234.xmp'."""
    names = {"taken_at": "date", "gps": "GPS", "offset": "time zone", "camera": "camera"}
    other = [f"{names.get(k, k)}: {v}" for k, v in rec.get("sources", {}).items() if v != "EXIF" and k != "orientation"]
    return DetailRow("From", " · ".join(other)) if other else ""


def MetadataTable(rec: dict, time_display: str) -> FT:
    """What is known about the picture: file, pair and sidecars, size, time, XMP values, camera, place."""
    gps = rec.get("gps")
    gps_text = (
        (f"{gps['lat']:.5f}, {gps['lon']:.5f}" + (f" · {gps['alt']:.0f} m" if gps.get("alt") is not None else ""))
        if gps
        else "—"
    )
    rating = rec.get("rating")
    optional = [
        ("Title", rec.get("title")),
        ("Description", rec.get("description")),
        ("Keywords", ", ".join(rec.get("keywords") or [])),
        ("Rating", ("rejected" if rating == -1 else "★" * rating + "☆" * (5 - rating)) if rating is not None else ""),
        ("Also", Div(*[Div(PurePath(p).name, title=p) for p in rec.get("companions") or []])),
        ("Sidecar", Div(*[Div(PurePath(p).name, title=p) for p in rec.get("sidecars") or []])),
    ]
    return Table(
        Tbody(
            DetailRow("File", rec["path"], path=True),
            *[DetailRow(k, v) for k, v in optional[4:] if (v.children if hasattr(v, "children") else v)],
            DetailRow("Size", f"{rec['width']} × {rec['height']} px · {rec['format']}"),
            DetailRow("Taken", TakenValue(rec, time_display)),
            *[DetailRow(k, v) for k, v in optional[:4] if v],
            DetailRow("Camera", rec.get("camera") or "—"),
            DetailRow("GPS", gps_text),
            DetailRow("Place", place_label(rec["place"]) if rec.get("place") else "—"),
            DetailRow("Orientation", orientation_text(rec)),
            Sources(rec),
            *([DetailRow("Notes", rec["notes"])] if rec.get("notes") else []),
        ),
        cls="text-sm w-full",
    )


def SimilarButtons(rec: dict, style_ok: bool, balance: float) -> FT:
    """Find similar by content, balanced or by style, nearby where the picture has GPS, and Close."""
    styles = [
        SimilarButton(
            rec["id"],
            "Balanced",
            balance if 0 < balance < 1 else PICTURE_BALANCE,
            primary=True,
            id="find-similar-balanced",
        ),
        SimilarButton(rec["id"], "Style", 1.0, id="find-similar-style"),
    ]
    nearby = Button(
        "Nearby",
        cls=(ButtonT.default, "uk-modal-close"),
        type="button",
        hx_get=f"/similar?id={rec['id']}&balance={balance:g}&within_km=25",
        hx_target="#results",
        hx_swap="outerHTML",
        hx_push_url="true",
        id="find-similar-nearby",
        title="Balanced, among images taken within 25 km",
    )
    return DivRAligned(
        Span("Find similar:", cls="text-sm text-muted-foreground"),
        SimilarButton(rec["id"], "Content", 0.0, primary=not style_ok, id="find-similar"),
        *(styles if style_ok else []),
        nearby if rec.get("gps") else "",
        Button("Close", cls=(ButtonT.ghost, "uk-modal-close"), type="button"),
        cls="gap-2 flex-wrap",
    )


def Picture(rec: dict) -> FT:
    """The picture in a box of its own shape (so the dialog does not jump): the thumbnail at once, the display
    rendition swapped in when it has loaded (styleseek.js), previous/next over its sides."""
    w, h = rec.get("width") or 1, rec.get("height") or 1
    name = PurePath(rec["path"]).name
    return Div(
        Img(
            src=f"/thumb/{rec['id']}",
            data_full=f"/full/{rec['id']}",
            alt=name,
            cls="loading w-full h-full object-contain rounded-md bg-muted",
            id="preview-img",
        ),
        IconButton("chevron-left", "Previous picture", "viewer-step viewer-prev", onclick="styleseek.step(-1)"),
        IconButton("chevron-right", "Next picture", "viewer-step viewer-next", onclick="styleseek.step(1)"),
        cls="viewer-picture relative mx-auto",
        style=f"aspect-ratio:{w}/{h};--ratio:{w / h:.4f};width:min(100%, calc(70vh * {w} / {h}))",
    )


def PreviewDialog(
    rec: dict,
    breakdown: tuple[dict, float] | None = None,
    style_ok: bool = True,
    balance: float = PICTURE_BALANCE,
    time_display: str = "taken",
) -> FT:
    """The viewer's content; stepping to the previous or next picture swaps this alone, the modal stays open."""
    return ModalDialog(
        ModalHeader(
            DivFullySpaced(
                ModalTitle(PurePath(rec["path"]).name, cls="text-lg truncate"),
                ModalCloseButton(cls="p-1", type="button", aria_label="Close"),
            ),
            cls="p-6",
        ),
        ModalBody(
            Div(
                Div(Picture(rec), cls="flex-1 min-w-0"),
                Div(
                    MetadataTable(rec, time_display),
                    Div(Breakdown(*breakdown), cls="breakdown-wrap") if breakdown else "",
                    cls="lg:w-96 shrink-0 min-w-0",
                ),
                cls="flex flex-col lg:flex-row gap-6",
            ),
            cls="space-y-6",
        ),
        ModalFooter(SimilarButtons(rec, style_ok, balance)),
        cls="uk-width-5-6 max-w-6xl",
        id="preview-dialog",
        data_id=str(rec["id"]),
    )


def PreviewModal(
    rec: dict,
    breakdown: tuple[dict, float] | None = None,
    style_ok: bool = True,
    balance: float = PICTURE_BALANCE,
    time_display: str = "taken",
) -> FT:
    """The viewer, opened as it loads (from a card, or in the page of a link that names the picture)."""
    return ModalContainer(
        PreviewDialog(rec, breakdown, style_ok, balance, time_display),
        id="preview-modal",
        # htmx:load bubbles up from a stepped-in dialog too: only the modal's own load opens it
        hx_on__load="if (event.target === this) UIkit.modal(this).show()",
        **{"hx-on:hidden": "this.remove()"},
    )
