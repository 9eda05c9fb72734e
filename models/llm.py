"""The local LLM behind query suggestions: llama-cpp-python with any GGUF chat model, its answer constrained
to a JSON schema by llama.cpp's grammar sampling. Resolved local-first (a configured file, <models_dir>/llm,
the Hugging Face cache), downloaded only on request; loaded lazily under a lock; one generation at a time,
each with a deadline after which it is stopped, not abandoned.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.errors import ModelError, WeightsMissingError
from models.specs import LLM
from settings import Settings

RANDOM_SUFFIX = ".styleseek.json"  # beside a GGUF written by models.tiny: {"random_weights": true}


class LlmTimeout(ModelError):
    pass


@dataclass
class LlmStatus:
    present: bool
    path: str | None
    source: str  # configured | models-dir | hf-cache | off | missing
    title: str
    random_weights: bool = False

    def to_dict(self) -> dict:
        return {"model": "llm", **asdict(self)}


def _filename(settings: Settings) -> str:
    return settings.llm_file or LLM.filename


def _in_folder(folder: Path, filename: str) -> Path | None:
    if (folder / filename).is_file():
        return folder / filename
    found = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
    return found[0] if found else None


def _status(path: Path, source: str) -> LlmStatus:
    title = LLM.title if path.name == LLM.filename else path.name
    random = Path(str(path) + RANDOM_SUFFIX).is_file()
    return LlmStatus(True, str(path), source, title, random)


def _configured_path(settings: Settings) -> Path | None:
    """STYLESEEK_LLM as a file or folder ('/models/x.gguf', './llm'), or None when it is auto/off/a repo id."""
    choice = settings.llm.strip()
    if choice.lower() in ("auto", "off"):
        return None
    path = Path(choice).expanduser()
    return path if path.suffix == ".gguf" or path.exists() or choice[:1] in (os.sep, ".", "~") else None


def _repo(settings: Settings) -> str:
    choice = settings.llm.strip()
    return LLM.hf_repo if choice.lower() in ("auto", "off") or _configured_path(settings) else choice


def locate_llm(settings: Settings) -> LlmStatus:
    choice = settings.llm.strip()
    if choice.lower() == "off":
        return LlmStatus(False, None, "off", "turned off (STYLESEEK_LLM=off)")
    filename = _filename(settings)
    path = _configured_path(settings)
    if path is not None:
        hit = path if path.is_file() else _in_folder(path, filename)
        if hit is None:
            return LlmStatus(False, str(path), "missing", f"STYLESEEK_LLM={choice}: no GGUF file there")
        return _status(hit, "configured")
    hit = _in_folder(settings.resolved_models_dir / LLM.folder, filename)
    if hit is not None:
        return _status(hit, "models-dir")
    repo = _repo(settings)
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo, filename)
    except Exception:  # noqa: BLE001 - a malformed repo id is simply not in the cache
        cached = None
    if isinstance(cached, str) and Path(cached).is_file():
        return _status(Path(cached), "hf-cache")
    return LlmStatus(False, None, "missing", f"{repo} / {filename}")


def missing_message(settings: Settings) -> str:
    folder = settings.resolved_models_dir / LLM.folder
    repo = _repo(settings)
    return (
        "No local LLM for query suggestions, so the rule-based suggester made these. To use one, put any GGUF "
        f"chat model in {folder} (or set STYLESEEK_LLM=/path/to/model.gguf), or run `styleseek models download "
        f"--llm` on a connected machine to fetch {repo} ({_filename(settings)}, about 1 GB)."
    )


def download_llm(settings: Settings) -> Path:
    if not settings.allow_download:
        raise WeightsMissingError(missing_message(settings) + " (downloads are turned off: STYLESEEK_ALLOW_DOWNLOAD)")
    path = _configured_path(settings)
    if path is not None:
        raise WeightsMissingError(f"STYLESEEK_LLM={settings.llm} is a path with no GGUF file: nothing to download")
    repo = _repo(settings)
    from huggingface_hub import hf_hub_download

    folder = settings.resolved_models_dir / LLM.folder
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return Path(hf_hub_download(repo, _filename(settings), local_dir=folder))
    except Exception as e:  # noqa: BLE001 - offline, unknown repo, no such file: all say the same to the user
        raise WeightsMissingError(f"could not download {repo}/{_filename(settings)}: {e}") from None


class LocalLlm:
    """A GGUF chat model. `chat_json` answers with JSON that conforms to the given schema, or raises."""

    def __init__(self, path: Path, threads: int = 0, n_ctx: int = 4096, seed: int = 0) -> None:
        self.path = Path(path)
        self.threads = threads or os.cpu_count() or 1
        self.n_ctx = n_ctx
        self.seed = seed
        self.random_weights = Path(str(path) + RANDOM_SUFFIX).is_file()
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # a llama.cpp context runs one generation at a time
        self._llm: Any = None

    def load(self) -> Any:
        if self._llm is None:
            with self._load_lock:
                if self._llm is None:
                    try:
                        from llama_cpp import Llama
                    except ImportError as e:
                        raise ModelError(
                            f"llama-cpp-python is not installed ({e}): pip install llama-cpp-python"
                        ) from e
                    try:
                        self._llm = Llama(
                            str(self.path), n_ctx=self.n_ctx, n_threads=self.threads, seed=self.seed, verbose=False
                        )
                    except Exception as e:  # noqa: BLE001 - a truncated or foreign file
                        raise ModelError(f"could not load the GGUF model {self.path}: {e}") from e
        return self._llm

    def _formatter(self, llm: Any, add_generation_prompt: bool = True) -> Any:
        """The model's own chat template (from the GGUF), as llama-cpp-python applies it."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{self.path.name} has no chat template: use an instruct (chat) GGUF model")
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        return Jinja2ChatFormatter(
            template,
            eos_token=llm._model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=llm._model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
            add_generation_prompt=add_generation_prompt,
        )

    def warm(self, prefix: list[dict[str, str]]) -> int:
        """Load the model and evaluate the messages every prompt starts with (the system prompt) into the
        KV cache: llama-cpp-python reuses a cached prefix, so a suggestion then costs only the user's part.
        Returns the number of tokens evaluated."""
        llm = self.load()
        text = self._formatter(llm, add_generation_prompt=False)(messages=prefix).prompt
        tokens = llm.tokenize(text.encode("utf-8"), special=True)
        with self._run_lock:
            llm.reset()
            llm.eval(tokens)
        return len(tokens)

    def chat_json(
        self,
        messages: list[dict[str, str]],
        schema: dict,
        max_tokens: int = 512,
        timeout_s: float = 60.0,
        temperature: float = 0.2,
    ) -> tuple[Any, str]:
        """(the parsed JSON answer, finish reason). The prompt is the model's own chat template; a stopping
        criterion ends the generation between two tokens once timeout_s has passed, and LlmTimeout says so."""
        from llama_cpp import LlamaGrammar, StoppingCriteriaList

        deadline = time.monotonic() + timeout_s
        llm = self.load()
        fmt = self._formatter(llm)(messages=messages)
        late = threading.Event()

        def past_deadline(_ids: Any, _logits: Any) -> bool:
            if time.monotonic() > deadline:
                late.set()
            return late.is_set()

        if not self._run_lock.acquire(timeout=timeout_s):
            raise LlmTimeout(f"the local model was busy for {timeout_s:g} s with another suggestion")
        try:
            out = llm.create_completion(
                fmt.prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=self.seed,
                stop=fmt.stop,
                grammar=LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False),
                stopping_criteria=StoppingCriteriaList([past_deadline]),
            )
        except ValueError as e:  # llama.cpp's "prompt too long" and the like
            raise ModelError(f"the local model could not answer: {e}") from e
        finally:
            self._run_lock.release()
        if late.is_set():
            raise LlmTimeout(f"the local model took longer than {timeout_s:g} s and was stopped")
        choice = out["choices"][0]
        text, finish = choice["text"] or "", choice.get("finish_reason") or ""
        try:
            # strict=False: a small model may put raw control characters inside strings; they are cleaned later
            return json.loads(text, strict=False), finish
        except json.JSONDecodeError as e:
            cut = " (cut off at the token limit)" if finish == "length" else ""
            raise ModelError(f"the local model's answer is not valid JSON{cut}: {e}") from e
