"""Query-suggestion benchmark: how long a suggestion takes on this machine with a model of the default's size.

No real weights can be downloaded here, so the model is the default's full-size random-initialised twin:
Qwen2.5-1.5B-Instruct's shapes (28 layers, 1536 wide, 12 query / 2 key-value heads, 8960 FFN, 151,936-token
vocabulary) in the llama architecture, written as F16 with the `gguf` package and quantised to Q4_K_M by
llama.cpp itself, as the default file is. Its speed is real, its words are not. Measured side by side:

- prompt processing (tokens/s) and generation (tokens/s) with the JSON-schema grammar, against the same
  generation without a grammar (the baseline: the grammar's own cost);
- the rule-based suggester on the same descriptions (the offline fallback's latency).

    python bench/suggest.py [--out bench/out] [--threads 0]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.errors import ModelError  # noqa: E402
from models.llm import LocalLlm  # noqa: E402
from models.tiny import write_random_llm  # noqa: E402
from search.suggest import SCHEMA, clean_terms, llm_messages, rule_suggestions  # noqa: E402

QWEN_1_5B = {"n_embd": 1536, "n_layer": 28, "n_head": 12, "n_head_kv": 2, "n_ff": 8960, "n_vocab": 151936, "f16": 1}
DESCRIPTIONS = [
    "impressionist paintings of people at the beach",
    "black and white photos of a city street near Paris without cars",
    "watercolor landscapes with mountains in Switzerland",
    "cubist portrait in the style of picasso",
]


def build_model(out: Path) -> Path:
    import llama_cpp

    q4 = out / "llm" / "bench-qwen1.5b-shape.Q4_K_M.gguf"
    if q4.exists():
        return q4
    t = time.perf_counter()
    f16 = write_random_llm(out, QWEN_1_5B, name="bench-qwen1.5b-shape.f16")
    print(f"wrote {f16.stat().st_size / 1e9:.2f} GB F16 in {time.perf_counter() - t:.0f} s", flush=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = os.cpu_count() or 1
    t = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(f16).encode(), str(q4).encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"quantize failed: {rc}")
    print(f"quantised to {q4.stat().st_size / 1e9:.2f} GB Q4_K_M in {time.perf_counter() - t:.0f} s", flush=True)
    f16.unlink()
    return q4


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--tokens", type=int, default=96, help="tokens generated per measurement")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from llama_cpp import Llama, LlamaGrammar

    path = build_model(args.out)
    threads = args.threads or os.cpu_count() or 1
    t = time.perf_counter()
    llm = Llama(str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False, seed=0)
    load_s = time.perf_counter() - t
    # the real prompt, tokenised by the real model's tokenizer, is about 4 characters a token
    prompt_chars = sum(len(m["content"]) for m in llm_messages(DESCRIPTIONS[0]))
    real_prompt_tokens = prompt_chars // 4
    grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    prompt = "x " * real_prompt_tokens  # filler tokens: prompt processing cost depends on the count only

    def run(with_grammar: bool) -> dict:
        llm.reset()
        t0 = time.perf_counter()
        first = []

        def mark(_ids: object, _logits: object) -> bool:
            if not first:
                first.append(time.perf_counter())
            return False

        from llama_cpp import StoppingCriteriaList

        out = llm.create_completion(
            prompt,
            max_tokens=args.tokens,
            temperature=0.2,
            seed=0,
            grammar=grammar if with_grammar else None,
            stopping_criteria=StoppingCriteriaList([mark]),
        )
        end = time.perf_counter()
        u = out["usage"]
        gen_s = end - first[0]
        return {
            "prompt_tokens": u["prompt_tokens"],
            "completion_tokens": u["completion_tokens"],
            "prompt_s": round(first[0] - t0, 3),
            "prompt_tok_s": round(u["prompt_tokens"] / (first[0] - t0), 1),
            "gen_tok_s": round((u["completion_tokens"] - 1) / gen_s, 2) if u["completion_tokens"] > 1 else None,
            "total_s": round(end - t0, 3),
        }

    def suggestion(description: str) -> dict:
        """One suggestion through StyleSeek's own path (chat template, schema grammar), timed end to end."""
        t0 = time.perf_counter()
        try:
            ll.chat_json(llm_messages(description), SCHEMA, max_tokens=args.tokens, timeout_s=600)
            ok = True
        except ModelError:  # random weights may still be inside a string at the token cap
            ok = False
        prompt = ll._formatter(llm)(messages=llm_messages(description)).prompt
        n = len(llm.tokenize(prompt.encode("utf-8"), special=True))
        return {"prompt_tokens": n, "seconds": round(time.perf_counter() - t0, 2), "json_complete": ok}

    ll = LocalLlm(path, threads=threads)
    ll._llm = llm
    llm.reset()
    cold = suggestion(DESCRIPTIONS[1])
    t = time.perf_counter()
    warmed_tokens = ll.warm(llm_messages("")[:1])
    warm_up_s = round(time.perf_counter() - t, 2)
    warm = [suggestion(d) for d in DESCRIPTIONS[2:4]]

    run(False)  # warm-up
    free = [run(False) for _ in range(2)]
    constrained = [run(True) for _ in range(2)]
    t = time.perf_counter()
    for d in DESCRIPTIONS * 25:
        clean_terms(rule_suggestions(d)[0])
    rules_ms = (time.perf_counter() - t) / (len(DESCRIPTIONS) * 25) * 1000
    best = max(constrained, key=lambda r: r["gen_tok_s"] or 0)
    answer_tokens = 110  # a 4-term answer in the schema's JSON, by the real tokenizer
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "model": f"{path.name}, {path.stat().st_size / 1e9:.2f} GB",
        "threads": threads,
        "load_s": round(load_s, 2),
        "free": free,
        "grammar": constrained,
        "grammar_vs_free_gen_speed": round(best["gen_tok_s"] / max(r["gen_tok_s"] or 0 for r in free), 3),
        "estimated_suggestion_s": round(
            real_prompt_tokens / best["prompt_tok_s"] + answer_tokens / best["gen_tok_s"], 1
        ),
        "estimate_assumes": {"prompt_tokens": real_prompt_tokens, "answer_tokens": answer_tokens},
        "rules_ms_per_description": round(rules_ms, 3),
        "suggestion_cold": cold,
        "system_prompt_warm_up": {"tokens": warmed_tokens, "seconds": warm_up_s},
        "suggestion_after_warm_up": warm,
    }
    print(json.dumps(result, indent=2))
    dest = ROOT / "bench" / "results" / f"{datetime.now().date()}-suggest-{os.cpu_count()}core.json"
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {dest}")


if __name__ == "__main__":
    main()
