"""XMP packets (embedded in JPEG/PNG/TIFF/WebP/HEIC, or sidecar files as darktable, Lightroom and digiKam write
them): GPS, date taken, rating, title, description and keywords.

Parsed with defusedxml, so a hostile packet (entity expansion, external entities, a DTD) is refused, never
expanded. Sidecars and embedded packets go through the same namespace-aware parser (Pillow's getxmp() drops
the namespaces, and exif:GPSLatitude and other namespaces' tags would collide by local name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

MAX_PACKET_BYTES = 4 << 20  # real packets are a few KB; anything this big is not worth parsing
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}


class XmpError(ValueError):
    """An XMP packet that was not used; the message says why."""


@dataclass
class XmpInfo:
    taken_at: str | None = None  # ISO 8601 local time
    offset: str | None = None  # "+02:00" when the date carried one
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    rating: int | None = None  # -1 (rejected) .. 5
    title: str | None = None
    description: str | None = None
    keywords: list[str] = field(default_factory=list)
    make: str | None = None
    model: str | None = None
    notes: list[str] = field(default_factory=list)


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _values(root: Element, prefix: str, name: str) -> list[Element | str]:
    """Every value of a property: attributes of rdf:Description and child elements, in document order."""
    out: list[Element | str] = []
    q = _q(prefix, name)
    for desc in root.iter(_q("rdf", "Description")):
        if q in desc.attrib:
            out.append(desc.attrib[q])
        out.extend(desc.findall(q))
    return out


def _text(root: Element, prefix: str, name: str) -> str | None:
    """A simple property, or the x-default (else first) item of a language alternative."""
    for v in _values(root, prefix, name):
        if isinstance(v, str):
            s = v.strip()
        else:
            items = v.findall(f"{_q('rdf', 'Alt')}/{_q('rdf', 'li')}") or v.findall(f".//{_q('rdf', 'li')}")
            default = [i for i in items if i.get(_q("xml", "lang")) == "x-default"]
            pick = (default or items or [v])[0]
            s = (pick.text or "").strip()
        if s:
            return " ".join(s.split())[:2000]
    return None


def _list(root: Element, prefix: str, name: str) -> list[str]:
    out: list[str] = []
    for v in _values(root, prefix, name):
        if isinstance(v, str):
            out.extend(p.strip() for p in v.split(","))
        else:
            out.extend((li.text or "").strip() for li in v.iter(_q("rdf", "li")))
    return [s for s in dict.fromkeys(out) if s][:200]


_COORD = re.compile(r"^\s*(\d{1,3})(?:,(\d{1,2}(?:\.\d+)?))?(?:,(\d{1,2}(?:\.\d+)?))?\s*([NSEW])\s*$", re.IGNORECASE)


def parse_coordinate(s: str, axis: str) -> float:
    """XMP's GPSCoordinate: 'DDD,MM.mmk' or 'DDD,MM,SSk' (k = N/S/E/W); a signed decimal is accepted too."""
    m = _COORD.match(s)
    if m:
        d, mi, se, ref = m.groups()
        v = int(d) + float(mi or 0) / 60 + float(se or 0) / 3600
        if (axis == "lat" and ref.upper() not in "NS") or (axis == "lon" and ref.upper() not in "EW"):
            raise ValueError(f"{s!r}: wrong hemisphere letter for a {axis}")
        v = -v if ref.upper() in "SW" else v
    else:
        v = float(s)
    limit = 90.0 if axis == "lat" else 180.0
    if not -limit <= v <= limit:
        raise ValueError(f"{s!r} is out of range")
    return v


_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?)?(Z|[+-]\d{2}:\d{2})?$"
)


def parse_date(s: str) -> tuple[str, str | None] | None:
    """XMP dates ('2021-07-14T10:30:00+02:00', '2021-07-14T10:30', '2021'): (ISO local time, offset or None)."""
    m = _DATE.match(s.strip())
    if not m:
        return None
    y, mo, d, hh, mi, ss, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo or 1), int(d or 1), int(hh or 0), int(mi or 0), int(ss or 0))
    except ValueError:
        return None
    offset = None if tz is None or hh is None else ("+00:00" if tz == "Z" else tz)
    return dt.isoformat(), offset


def parse_packet(data: bytes | str) -> XmpInfo:
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if len(data) > MAX_PACKET_BYTES:
        raise XmpError(f"XMP packet of {len(data) >> 20} MB ignored")
    data = data.strip(b"\x00 \t\r\n")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise XmpError(f"XMP refused: it declares a DTD or entities ({type(e).__name__})") from None
    except (ParseError, ValueError) as e:
        raise XmpError(f"XMP unreadable: {e}") from None
    info = XmpInfo()
    for prefix, name in (("exif", "DateTimeOriginal"), ("photoshop", "DateCreated"), ("xmp", "CreateDate")):
        s = _text(root, prefix, name)
        parsed = parse_date(s) if s else None
        if parsed:
            info.taken_at, info.offset = parsed
            break
    lat_s, lon_s = _text(root, "exif", "GPSLatitude"), _text(root, "exif", "GPSLongitude")
    if lat_s and lon_s:
        try:
            info.lat, info.lon = round(parse_coordinate(lat_s, "lat"), 7), round(parse_coordinate(lon_s, "lon"), 7)
        except ValueError as e:
            info.notes.append(f"XMP GPS ignored: {e}")
        alt = _text(root, "exif", "GPSAltitude")
        if info.lat is not None and alt:
            try:
                num, _, den = alt.partition("/")
                a = float(num) / float(den or 1)
                below = _text(root, "exif", "GPSAltitudeRef") == "1"
                info.alt = round(-a if below else a, 2)
            except (ValueError, ZeroDivisionError):
                info.notes.append("XMP GPS altitude unreadable")
    rating = _text(root, "xmp", "Rating")
    if rating:
        try:
            r = round(float(rating))
            info.rating = r if -1 <= r <= 5 else None
        except ValueError:
            pass
    info.title = _text(root, "dc", "title")
    info.description = _text(root, "dc", "description")
    info.keywords = _list(root, "dc", "subject")
    if not info.keywords:  # Lightroom's and digiKam's hierarchies: the leaf of each path
        paths = _list(root, "lr", "hierarchicalSubject") or _list(root, "digiKam", "TagsList")
        info.keywords = list(dict.fromkeys(p.replace("/", "|").split("|")[-1].strip() for p in paths))
    info.make, info.model = _text(root, "tiff", "Make"), _text(root, "tiff", "Model")
    return info


def read_sidecar(path: str | Path) -> XmpInfo:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_PACKET_BYTES:
            raise XmpError(f"sidecar {p.name} is larger than {MAX_PACKET_BYTES >> 20} MB: ignored")
        return parse_packet(p.read_bytes())
    except OSError as e:
        raise XmpError(f"sidecar {p.name} unreadable: {e.strerror or e}") from None
