"""Wires settings, stores, models and the pipeline together. The CLI and the web app use this one object."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from indexing.catalog import Catalog, ImageRow
from indexing.dropped import DroppedPictures
from indexing.imageio import decode, preview_bytes, thumbnail_bytes
from indexing.jobs import IndexJob, Jobs
from indexing.pipeline import Indexer, RunReport
from indexing.progress import Progress, ProgressFile, ProgressSnapshot
from indexing.thumbs import ThumbCache
from indexing.vectors import VectorIndex, set_search_threads
from models.base import Encoder
from search.engine import Hit, Searcher, unavailable
from search.errors import QueryError
from search.options import Filters
from search.query import Term, make_term, parse_query
from search.records import hit_record, image_record
from search.suggest import Suggestions, Tags
from search.suggester import Suggester
from settings import Settings

log = logging.getLogger(__name__)


def default_content_encoder(settings: Settings) -> Encoder:
    from models.content import ContentEncoder  # torch loads here, not at import time

    return ContentEncoder(settings)


def default_style_encoders(settings: Settings) -> dict[str, Encoder]:
    """The style space and the VAE texture descriptor, where enabled and where their weights are present:
    a collection can be indexed with the content model alone, and gains the style spaces later."""
    if not settings.style_search:
        return {}
    from models import weights
    from models.specs import STYLE, TEXTURE

    out: dict[str, Encoder] = {}
    if weights.locate(STYLE, settings).present:
        from models.style import StyleEncoder

        out["style"] = StyleEncoder(settings)
    if weights.locate(TEXTURE, settings).present:
        from models.texture import TextureEncoder

        out["texture"] = TextureEncoder(settings)
    return out


def all_encoders(settings: Settings) -> dict[str, Encoder]:
    """Every encoder the settings and the weights present give: what a cluster worker builds for itself."""
    return {"content": default_content_encoder(settings), **default_style_encoders(settings)}


PICTURE_REF_HEX = 16  # '@' and 16 hex digits of the SHA-256: a dropped picture's name in a query


class StyleSeek:
    def __init__(
        self,
        settings: Settings,
        content_encoder: Encoder | None = None,
        style_encoders: dict[str, Encoder] | None = None,
    ) -> None:
        self.settings = settings
        set_search_threads(settings.search_threads)
        self.catalog = Catalog(settings.db_path)
        self.thumbs = ThumbCache(settings.thumbs_dir)
        self.encoder = content_encoder or default_content_encoder(settings)
        self.style_encoders = default_style_encoders(settings) if style_encoders is None else style_encoders
        self._indices: dict[str, VectorIndex] = {}
        self._index_lock = threading.Lock()
        self.jobs = Jobs()
        self.suggester = Suggester(settings, lambda: self.encoders, self.vector_index)
        # dropped pictures' vectors by content hash (never the picture), kept so that a link naming one works
        self.pictures = DroppedPictures(self.catalog, lambda space: self.encoders[space].fingerprint)

    @property
    def encoders(self) -> dict[str, Encoder]:
        return {"content": self.encoder, **self.style_encoders}

    def vector_index(self, space: str) -> VectorIndex:
        """A space's FAISS index, opened on first use and reconciled with SQLite then."""
        if space not in self._indices:
            with self._index_lock:
                if space not in self._indices:
                    row = self.catalog.conn.execute("SELECT dim FROM spaces WHERE name=?", (space,)).fetchone()
                    dim = int(row[0]) if row else self.encoders[space].dim
                    path = self.settings.index_dir / f"{space}.faiss"
                    idx = VectorIndex(path, space, dim, self.settings.ann_threshold, self.settings.ann_nprobe)
                    idx.load_and_reconcile(self.catalog)
                    self._indices[space] = idx
        return self._indices[space]

    @property
    def index(self) -> VectorIndex:
        return self.vector_index("content")

    def indexer(self, gpu: Any = None) -> Indexer:
        """gpu: a batched JPEG decoder to use (None: the run picks nvImageCodec's where CUDA has it)."""
        for space, enc in self.encoders.items():
            if self.vector_index(space).dim != enc.dim:
                self.catalog.check_space(space, enc.dim, enc.fingerprint)  # raises with advice
        indices = {s: self.vector_index(s) for s in self.encoders}
        return Indexer(self.settings, self.catalog, self.encoders, indices, self.thumbs, gpu)

    def searcher(self) -> Searcher:
        return Searcher(self.catalog, self.vector_index, self.encoders, self.pictures)

    # indexing ---------------------------------------------------------------------------------------
    def index_folders(
        self, paths: list[Path], progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> RunReport:
        progress = progress or Progress()
        progress.listen(ProgressFile(self.settings.resolved_data_dir / "indexing.json"))
        return self.indexer().run(paths, progress, cancel)

    def index_on_ray(
        self, paths: list[Path], shards: Path, address: str | None, workers: int = 0, gpus: float = 0.0
    ) -> dict:
        """Embed the folders on a Ray cluster into Parquet shards (import them with import_shards)."""
        from indexing.cluster import index_on_ray

        return index_on_ray(paths, shards, self.settings, all_encoders, self.catalog.hash_kind, address, workers, gpus)

    def import_shards(self, shards: Path) -> dict:
        """A cluster run's shards into this catalog; the indices follow (trained or grown) and are saved."""
        from indexing.shards import import_shards

        counts = import_shards(self.catalog, self.thumbs, shards)
        with self._index_lock:
            self._indices.clear()  # reopened: each reconciles with what the import added
        for space in self.encoders:
            self.vector_index(space)
        return counts

    # what the pages and `status` show ---------------------------------------------------------------------
    def counts(self) -> dict:
        return {
            "indexed": self.catalog.count("indexed"),
            "failed": self.catalog.count("error"),
            "spaces": self.space_status(),
        }

    def folders(self) -> list[dict]:
        """Each folder: its id, path, counts, when it was last indexed, and `state`: complete, partial (its last
        run stopped partway: the next resumes), indexing (a run is on) or new (never run)."""
        on = self.progress()
        out = []
        for f in self.catalog.folder_stats():
            state = {"complete": "complete", "running": "partial"}.get(f.last_run or "", "new")
            if on is not None and on.running and on.folder == f.path:
                state = "indexing"
            out.append(
                {
                    "id": f.id,
                    "path": f.path,
                    "indexed": f.indexed,
                    "failed": f.failed,
                    "last_indexed_at": f.last_indexed_at,
                    "state": state,
                }
            )
        return out

    def folder_errors(self, folder_id: int) -> list[tuple[str, str]]:
        return self.catalog.folder_errors(folder_id)

    def remove_folder(self, folder_id: int) -> int:
        """Take a folder out of the library (its files stay where they are); not while a run is on."""
        if self.jobs.job is not None and self.jobs.job.running:
            raise RuntimeError("An indexing run is in progress: cancel it or wait for it, then remove the folder.")
        if not any(f.id == folder_id for f in self.catalog.folder_stats()):
            raise LookupError(f"no folder with id {folder_id}")
        return self.indexer().remove_folder(folder_id)

    def status(self) -> dict:
        """`styleseek status --json`: counts, folders, what each space covers, and a run in another process."""
        from indexing.progress import ProgressFile

        c = self.counts()
        return {
            "data_dir": str(self.settings.resolved_data_dir),
            "indexed": c["indexed"],
            "failed": c["failed"],
            "folders": self.folders(),
            "spaces": c["spaces"],
            "running": ProgressFile.read(self.settings.resolved_data_dir / "indexing.json"),
        }

    def model_notice(self) -> tuple[str, str] | None:
        """(kind, text) for the page's notice: the content model missing, or random test weights in any model
        in use (random style weights beside real content weights would otherwise go unannounced)."""
        from models import CONTENT
        from models import weights as model_weights
        from models.specs import STYLE, TEXTURE

        st = model_weights.locate(CONTENT, self.settings)
        if not st.present:
            return ("error", model_weights.missing_message(CONTENT, self.settings))
        in_use = [CONTENT] + [spec for spec in (STYLE, TEXTURE) if spec.key in self.encoders]
        random = [spec for spec in in_use if model_weights.locate(spec, self.settings).random_weights]
        if random:
            which = ", ".join(f"{spec.key} ({spec.title})" for spec in random)
            return (
                "warning",
                f"Test models in use (random weights) for {which}: what they score is meaningless. "
                "Run `styleseek models download` for the real weights.",
            )
        return None

    def style_available(self) -> tuple[bool, str]:
        if "style" in self.encoders:
            return True, ""
        why = unavailable("style")
        return False, f"{why[0].upper()}{why[1:]}. Content terms work as usual."

    def progress(self) -> ProgressSnapshot | None:
        return self.jobs.progress()

    def cancel_indexing(self) -> ProgressSnapshot:
        return self.jobs.cancel()

    @property
    def job(self) -> IndexJob | None:
        return self.jobs.job

    def records(self, hits: list[Hit]) -> list[dict]:
        """The hits as records: the one form the JSON, the CLI and the pages share (search.records)."""
        return [hit_record(h, self.thumbs) for h in hits]

    def record(self, row: ImageRow) -> dict:
        return image_record(row, self.thumbs)

    def space_status(self) -> dict:
        """Per space: how many images it can search, and of the indexed ones, how many it covers."""
        indexed = self.catalog.count("indexed")
        spaces = [r[0] for r in self.catalog.conn.execute("SELECT name FROM spaces ORDER BY name")]
        return {s: {"images": self.catalog.count_vectors(s), "of": indexed} for s in spaces}

    def start_indexing(self, paths: list[Path]) -> IndexJob:
        """Start a background run (the UI's); refuses a second one while the first runs."""
        return self.jobs.start(paths, self.index_folders)

    # queries ----------------------------------------------------------------------------------------
    def search(self, query: str | list[Term], k: int = 50, **options: Any) -> list[Hit]:
        """A one-line query (see search.query) or a list of terms; options: min_score, min_match, sort, coherence,
        filters."""
        terms = parse_query(query) if isinstance(query, str) else query
        return self.searcher().search(terms, k, **options)

    def similar(self, image_id: int, k: int = 50, balance: float = 0.0, within_km: float | None = None) -> list[Hit]:
        return self.searcher().similar(image_id, k, balance, within_km)

    def remember_picture(self, source: bytes | Path, name: str = "") -> str:
        """A picture to search by that is not (or not necessarily) indexed: decoded and embedded now in the
        spaces a picture term uses, its vectors kept by content hash (indexing/dropped.py); the '@…' reference a
        query names it by.
        An indexed file is named by its id instead. A picture that cannot be read raises ImageError."""
        if isinstance(source, Path):
            row = self.image_by_path(source)
            if row is not None and row.status == "indexed":
                return f"#{row.id}"
            if not source.is_file():
                raise FileNotFoundError(f"cannot read {source}: not a file")
            name, source = str(source), source.read_bytes()
        digest = hashlib.sha256(source).hexdigest()[:PICTURE_REF_HEX]
        spaces = self.searcher().picture_split()
        if (kept := self.pictures.get(digest)) is not None and set(spaces) <= set(kept):
            return f"@{digest}"
        sizes = [self.encoders[s].input_size for s in spaces]
        dec = decode(source, min_side=max(sizes), name=name or None, **self._decode_limits())
        self.pictures.put(digest, {s: self.encoders[s].encode_images([dec.image])[0] for s in spaces})
        return f"@{digest}"

    def picture_term(self, value: str, weight: float) -> Term:
        """The CLI's --like/--unlike: an indexed picture by id ('12', '#12'), or any picture file (an indexed one
        by its id, any other embedded now, its vectors kept as a dropped one's)."""
        value = value.strip()
        if value.lstrip("#").isdigit():
            return make_term("#" + value.lstrip("#"), "image", weight)
        return make_term(self.remember_picture(Path(value).expanduser()), "image", weight)

    def similar_to_file(self, path: Path, k: int = 50, balance: float = 0.0) -> list[Hit]:
        """Find similar for any file: by its id when indexed, else by embedding it now."""
        row = self.catalog.get_by_path(str(path.expanduser().absolute()))
        if row is not None and row.status == "indexed":
            return self.similar(row.id, k, balance)
        if not path.is_file():
            raise FileNotFoundError(f"cannot read {path}: not a file")
        sizes = [e.input_size for e in self.encoders.values()]
        dec = decode(path, min_side=max(sizes), **self._decode_limits())
        return self.searcher().similar_to_image(dec.image, k, balance)

    # suggestions ------------------------------------------------------------------------------------
    def suggest(self, description: str, more_like: list[int] | None = None, engine: str = "auto") -> Suggestions:
        """Weighted terms for a description (search.suggester: the local LLM, else the rules, saying why)."""
        return self.suggester.suggest(description, more_like, engine)

    def warm_suggestions(self) -> bool:
        return self.suggester.warm()

    def result_tags(self, ids: list[int], limit: int = 12) -> Tags:
        return self.suggester.result_tags(ids, limit)

    def timeline(
        self, after: str = "", limit: int = 60, taken: tuple[str, str] | None = None
    ) -> tuple[list[dict], str]:
        """The library newest first (those taken in the span `taken` only, if given): a page of records after
        the cursor, and the cursor of the next page ('' at the end). A cursor is 'taken_sort:id' of the last
        picture shown."""
        cursor = None
        if after:
            try:
                sort, iid = after.split(":")
                cursor = (float(sort), int(iid))
            except ValueError:
                raise QueryError(f"after must look like 1690000000.0:1234, got {after!r}") from None
        if taken:
            Filters(taken_from=taken[0] or None, taken_to=taken[1] or None)  # the one check of the dates
        rows = self.catalog.timeline(cursor, limit, taken)
        nxt = f"{rows[-1].taken_sort!r}:{rows[-1].id}" if len(rows) == limit else ""
        return [image_record(r, self.thumbs) for r in rows], nxt

    def image(self, image_id: int) -> ImageRow | None:
        return self.catalog.get(image_id)

    def image_by_path(self, path: Path) -> ImageRow | None:
        return self.catalog.get_by_path(str(Path(path).expanduser().absolute()))

    def save_indices(self) -> None:
        """Write the FAISS files that changed (an interrupted CLI run keeps what it committed)."""
        for idx in self._indices.values():
            if idx.dirty:
                idx.save()

    def thumbnail(self, row: ImageRow) -> bytes:
        """The cached thumbnail, re-rendered from the source if the cache lost it."""
        if row.hash:
            data = self.thumbs.read(row.hash)
            if data is not None:
                return data
        dec = decode(Path(row.path), min_side=1, min_long=self.settings.thumbnail_size, **self._decode_limits())
        thumb = thumbnail_bytes(dec.image, self.settings.thumbnail_size)
        if row.hash:
            self.thumbs.write(row.hash, thumb)
        return thumb

    def preview(self, row: ImageRow) -> bytes:
        """The viewer's upright picture at display size, from the rendition cache after the first view."""
        size = self.settings.preview_size
        if row.hash and (data := self.thumbs.read_rendition(row.hash, size)) is not None:
            return data
        data = preview_bytes(Path(row.path), size, **self._decode_limits())
        if row.hash:
            self.thumbs.write_rendition(row.hash, size, data)
        return data

    def _decode_limits(self) -> dict:
        return {"max_pixels": self.settings.max_image_pixels, "big_bytes": self.settings.big_decode_mb << 20}

    def vector(self, image_id: int) -> np.ndarray | None:
        return self.index.reconstruct(image_id)
