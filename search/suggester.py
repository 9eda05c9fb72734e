"""Query suggestions as a service: which engine answers (the local LLM where one is installed, in its own
thread and stopped at its deadline; else, or when it fails, the rules, with a note saying why), the LLM kept
warm, and zero-shot tags of the current results for "More like these results"."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import numpy as np

from indexing.vectors import VectorIndex
from models.base import Encoder
from search.dates import strip_date
from search.errors import QueryError
from search.suggest import Suggestions, Tags, clean_terms, count_tags, llm_suggestions, rule_suggestions, tag_vocabulary
from settings import Settings


class Suggester:
    def __init__(
        self, settings: Settings, encoders: Callable[[], dict[str, Encoder]], index_for: Callable[[str], VectorIndex]
    ) -> None:
        self.settings = settings
        self._encoders = encoders
        self.vector_index = index_for
        self._llm: Any = None  # models.llm.LocalLlm, loaded on the first suggestion
        self._llm_thread = ThreadPoolExecutor(1, thread_name_prefix="llm")
        self._tag_vectors: dict[tuple[str, str], np.ndarray] = {}

    @property
    def encoders(self) -> dict[str, Encoder]:
        return self._encoders()

    def suggest(self, description: str, more_like: list[int] | None = None, engine: str = "auto") -> Suggestions:
        """Weighted terms for a description: from the local LLM where one is installed (engine 'auto' or
        'llm'), else, or when it fails or times out, from the rule-based suggester, with a note saying why.
        `more_like`: ids of current results, whose zero-shot tags both engines take into account."""

        description = " ".join((description or "").split())
        if not description:
            raise QueryError("describe the pictures you are looking for, e.g. impressionist paintings of a beach")
        if len(description) > 500:
            raise QueryError("the description is too long (500 characters at most)")
        if engine not in ("auto", "llm", "rules"):
            raise QueryError(f"engine must be auto, llm or rules, got {engine!r}")
        description, date = strip_date(description)  # "beach july 2023": the date is a filter, not a term
        sug = self._suggest(description, more_like, engine)
        if date is not None:
            sug.date = date
            sug.notes.insert(0, f"“{date.text}” is a date: it stays in the search box as a filter ({date.label})")
        return sug

    def _suggest(self, description: str, more_like: list[int] | None, engine: str) -> Suggestions:
        from models.errors import ModelError
        from models.llm import LlmTimeout, locate_llm, missing_message

        tags = self.result_tags(more_like) if more_like else None
        notes: list[str] = []
        status = locate_llm(self.settings)
        if engine == "llm" and not status.present:
            raise ModelError(missing_message(self.settings))
        if engine != "rules" and status.present:
            llm = self._local_llm(str(status.path))
            timeout = self.settings.llm_timeout_s
            try:
                # in the model's own thread: generation stops itself at the deadline, and should prompt
                # processing (which cannot be interrupted) run past it, the caller still gets its answer
                job = self._llm_thread.submit(llm_suggestions, llm, description, tags, timeout)
                try:
                    raw, notes = job.result(timeout=timeout + 2)
                except FutureTimeout:
                    raise LlmTimeout(f"the local model did not answer within {timeout:g} s") from None
                terms, cleaned = clean_terms(raw)
                if terms:
                    name = status.title + (" (random test weights)" if status.random_weights else "")
                    return Suggestions(terms, f"llm: {name}", notes + cleaned)
                notes = [*notes, *cleaned, "the local model suggested nothing usable"]
            except ModelError as e:
                if engine == "llm":
                    raise
                notes = [str(e)]
            notes.append("so the rule-based suggester made these")
        elif engine == "auto" and self.settings.llm.strip().lower() != "off":
            notes.append(missing_message(self.settings))
        raw, rule_notes = rule_suggestions(description, tags)
        terms, cleaned = clean_terms(raw)
        return Suggestions(terms, "rules", notes + rule_notes + cleaned)

    def _local_llm(self, path: str) -> Any:
        """The loaded suggestion model for this GGUF file, kept across calls (its KV cache holds the prompt)."""
        from models.llm import LocalLlm

        if self._llm is None or str(self._llm.path) != path:
            self._llm = LocalLlm(Path(path), threads=self.settings.llm_threads)
        return self._llm

    def warm(self) -> bool:
        """Load the suggestion LLM, if one is installed, and put its system prompt in the KV cache (done in the
        background at server start: the first suggestion is then as quick as the next)."""
        from models.llm import locate_llm
        from search.suggest import llm_messages

        status = locate_llm(self.settings)
        if not status.present:
            return False
        llm = self._local_llm(str(status.path))
        self._llm_thread.submit(llm.warm, llm_messages("")[:1]).result()
        return True

    def result_tags(self, ids: list[int], limit: int = 12) -> Tags:
        """Zero-shot tags of these images: the content model picks subjects, the style model styles and media,
        each from the shipped vocabulary (the tag texts are encoded once)."""
        ids = ids[:limit]
        tags = Tags(of=len(ids))
        for space in ("content", "style"):
            if space not in self.encoders or not ids:
                continue
            vecs, have = self.vector_index(space).reconstruct_many(np.asarray(ids, np.int64))
            for group, names in tag_vocabulary(space).items():
                key = (space, group)
                if key not in self._tag_vectors:
                    # CLIP's zero-shot habit: subjects read better as "a photo of …" than as bare nouns
                    texts = [f"a photo of {n}" for n in names] if group == "subjects" else names
                    self._tag_vectors[key] = self.encoders[space].encode_text(texts)
                counted = count_tags(vecs[have], self._tag_vectors[key], names, 2 if group == "subjects" else 1)
                setattr(tags, group, counted)
        return tags
