"""The page's shared pieces: headers (vendored assets only), notices, small buttons, labelled fields."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from fasthtml.common import *  # noqa: F403 - fasthtml first, then monsterui (the other order loses styles)
from fasthtml.components import Button as PlainButton  # MonsterUI's Button is a styled uk-btn
from fasthtml.components import Input as PlainInput  # MonsterUI's Input adds text-box styling to every type
from fasthtml.components import Label as PlainLabel  # MonsterUI's Label is a boxed form label
from monsterui.all import *  # noqa: F403

V = "/static/vendor"
LOCAL_ASSETS = {
    "franken_css": f"{V}/franken-core.min.css",
    "franken_js_core": f"{V}/franken-core.iife.js",
    "franken_icons": f"{V}/franken-icon.iife.js",
    "daisyui": f"{V}/daisyui-styled.css",
}
# htmx swaps 4xx/5xx answers too, so a bad query shows its message instead of silently doing nothing
HTMX_CONFIG = {
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "[45]..", "swap": True, "error": True},
    ],
    "includeIndicatorStyles": False,
}
MODEL_COLOURS = {
    "content": "bg-sky-500",
    "style": "bg-fuchsia-500",
    "texture": "bg-amber-500",
    "location": "bg-emerald-500",
}
MODEL_NAMES = {"content": "content", "style": "style", "texture": "texture", "location": "place"}


def Headers() -> list:
    """MonsterUI's theme headers, pointed at the vendored files instead of CDNs (works offline)."""
    hdrs = Theme.slate._create_headers({**LOCAL_ASSETS, "tailwind": ""}, mode="light", daisy=True)
    # MonsterUI loads Tailwind's JIT script; we ship a prebuilt stylesheet instead (ui/vendor.sh)
    hdrs = [
        h
        for h in hdrs
        if not (
            getattr(h, "tag", "") == "script" and (h.attrs.get("src") == "" or "tailwind.config" in str(h.children))
        )
    ]
    return [
        Meta(charset="utf-8"),
        Meta(name="viewport", content="width=device-width, initial-scale=1"),
        Meta(name="htmx-config", content=json.dumps(HTMX_CONFIG)),
        Link(rel="icon", href="/static/favicon.svg", type="image/svg+xml"),  # else every load asks /favicon.ico
        Script(src=f"{V}/htmx.min.js"),
        *hdrs,
        Link(rel="stylesheet", href=f"{V}/tailwind.min.css"),  # after DaisyUI, so utilities win over components
        Link(rel="stylesheet", href="/static/styleseek.css"),
        Script(src="/static/styleseek.js"),
    ]


def Page(*content: Any, modal: Any = None) -> FT:
    return (
        Title("StyleSeek"),
        Div(*content, cls="max-w-screen-2xl mx-auto px-4 py-6"),
        Div(modal or "", id="modal-slot"),
    )


def Notice(text: str, kind: str = "error", cls: str = "", **kw: Any) -> FT:
    kind_cls = {
        "error": (AlertT.error, "bg-red-50 border-red-300 text-red-900"),
        "warning": (AlertT.warning, "bg-amber-50 border-amber-300 text-amber-900"),
        "info": (AlertT.info, "bg-sky-50 border-sky-300 text-sky-900"),
    }[kind]
    return Alert(P(text, cls="whitespace-pre-line text-sm"), cls=(*kind_cls, "rounded-lg", cls), data_kind=kind, **kw)


def ErrorFragment(message: str) -> FT:
    return Div(Notice(message), id="error", cls="my-4")


def IconButton(icon: str, label: str, cls: str = "", **kw: Any) -> FT:
    """A small icon-only button (not a submit button) with its label for screen readers."""
    return PlainButton(
        UkIcon(icon, height=14), type="button", aria_label=label, cls=f"p-1 rounded hover:bg-muted {cls}", **kw
    )


def Selectable(rec: dict, card: Any) -> FT:
    """A picture's card with the box that selects it as an example picture, for or against (several;
    shift-click for a range: styleseek.pick); result cards and timeline tiles alike."""
    name = PurePath(rec["path"]).name
    pick = PlainInput(
        type="checkbox",
        cls="pick uk-checkbox",
        data_id=str(rec["id"]),
        aria_label=f"Select {name}",
        onclick="styleseek.pick(event, this)",
    )
    return Div(pick, card, cls="card-wrap relative")


def Checkbox(name: str, value: str, checked: bool, text: str, input_id: str | None = None, **kw: Any) -> FT:
    """A labelled checkbox of the search options."""
    box = PlainInput(type="checkbox", name=name, value=value, checked=checked, cls="uk-checkbox", id=input_id)
    return PlainLabel(box, Span(text), cls="flex items-center gap-2 text-sm", **kw)


def Field(label: str, *controls: Any) -> FT:
    """A short label beside its inputs, as the search options show them."""
    return PlainLabel(Span(label), *controls, cls="option-field flex items-center gap-2 text-sm")


def Slider(name: str, value: float, lo: float, hi: float, width: str, **kw: Any) -> FT:
    """A native range input in 0.05 steps (weights, the balance)."""
    return PlainInput(
        type="range",
        name=name,
        min=f"{lo:g}",
        max=f"{hi:g}",
        step="0.05",
        value=f"{value:g}",
        cls=f"{width} accent-slate-800 cursor-pointer",
        **kw,
    )


def DetailRow(label: str, value: Any, path: bool = False) -> FT:
    """A label and its value; a path may break anywhere, words only where they must."""
    wrap = {"cls": "break-all"} if path else {"style": "overflow-wrap:anywhere"}
    return Tr(Td(label, cls="text-muted-foreground pr-4 align-top whitespace-nowrap"), Td(value, **wrap))
