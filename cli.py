"""`styleseek index|import|search|similar|info|status|serve|models`: the scripts' door to the services the UI uses."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for flag, field in (
        ("data_dir", "data_dir"),
        ("models_dir", "models_dir"),
        ("device", "device"),
        ("batch_size", "batch_size"),
        ("workers", "decode_workers"),
        ("host", "host"),
        ("port", "port"),
        ("time", "time_display"),
    ):
        v = getattr(args, flag, None)
        if v is not None:
            overrides[field] = v
    return Settings(**overrides)


def _emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(text)


def _app(settings: Settings):  # noqa: ANN202 - services import is deferred to keep --help fast
    from services import StyleSeek

    return StyleSeek(settings)


def _hits_payload(app, hits) -> list[dict]:  # noqa: ANN001
    return app.records(hits)


def _hits_text(payload: list[dict], time_display: str | None = None) -> str:
    """One line a hit; with `time_display`, when each was taken (the date sort shows it)."""
    if not payload:
        return "no results"
    from search.records import taken_text

    def when(h: dict) -> str:
        return f"  {taken_text(h, time_display)}" if time_display and h.get("taken_at") else ""

    def models(h: dict) -> str:
        by = h["contributions"]["models"]
        return " ".join(f"{k[0]}={v:+.3f}" for k, v in by.items()) if len(by) > 1 else ""

    return "\n".join(f"{h['score']:.4f}  #{h['id']:<6} {h['path']}  {models(h)}{when(h)}".rstrip() for h in payload)


def cmd_index(args: argparse.Namespace) -> int:
    if args.ray is not None:  # past one machine: Parquet shards now, `styleseek import` next (README, Scaling)
        if args.shards is None:
            raise ValueError("--ray needs --shards DIR: the folder the workers write the embedded pictures into")
        paths = [Path(p) for p in args.paths]
        r = _app(_settings(args)).index_on_ray(paths, args.shards, args.ray, args.ray_workers, args.ray_gpus)
        done = f"{r['files']} files embedded by {r['workers']} workers in {r['seconds']}s into {r['shards']}"
        _emit(args, r, f"{done}\nnext: styleseek import {r['shards']}")
        return 0
    from tqdm import tqdm

    from indexing.progress import Progress

    app = _app(_settings(args))
    progress = Progress()
    bar = tqdm(total=0, unit="img", disable=args.json or args.quiet, dynamic_ncols=True)

    def on_update(s) -> None:  # noqa: ANN001
        if bar.total != s.total:
            bar.total = s.total
        bar.n = s.done
        bar.set_postfix(new=s.indexed, failed=s.failed, moved=s.moved, refresh=False)
        bar.set_description(s.state)
        bar.refresh()

    progress.listen(on_update)
    cancel = threading.Event()
    try:
        report = app.index_folders([Path(p) for p in args.paths], progress, cancel)
    except KeyboardInterrupt:
        cancel.set()
        bar.close()
        print("interrupted: committed batches are kept; run the same command to resume", file=sys.stderr)
        app.save_indices()
        return 130
    bar.close()
    r = report.to_dict()
    text = (
        f"{r['indexed']} indexed, {r['unchanged']} unchanged, {r['moved']} moved, {r['removed']} removed, "
        f"{r['failed']} failed in {r['seconds']:.1f}s"
    )
    if r["skipped"]:  # videos, sidecars and the like: not pictures, not errors
        kinds = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in sorted(r["skipped_by_kind"].items()))
        text += f"\nnot pictures, skipped: {kinds}"
    if r["errors"]:
        text += "\nskipped:\n" + "\n".join(f"  {e['path']}: {e['error']}" for e in r["errors"])
    _emit(args, r, text)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    r = _app(_settings(args)).import_shards(args.shards)
    _emit(args, r, ", ".join(f"{v} {k}" for k, v in r.items()))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from search.dates import intersect, strip_date
    from search.query import parse_query, parse_term_option, validate

    query, typed = strip_date(args.query or "")  # "beach july 2023": a date filter beside the terms
    if typed is not None:
        args.date_from, args.date_to = intersect((args.date_from, args.date_to), (typed.taken_from, typed.taken_to))
        print(f"“{typed.text}” → taken {typed.label}", file=sys.stderr)
    terms = (parse_query(query) if query.strip() else []) + [parse_term_option(t) for t in args.term or []]
    app = _app(_settings(args))
    terms += [app.picture_term(v, 1.0) for v in args.like or []] + [
        app.picture_term(v, -1.0) for v in args.unlike or []
    ]
    from search.engine import Filters

    filters = Filters(args.unplaced, args.date_from, args.date_to, args.camera, args.with_gps)
    options = {"min_score": args.min_score, "min_match": args.min_match, "sort": args.sort}
    hits = app.search(validate(terms), args.k, **options, coherence=args.coherence, filters=filters)
    from geo.geocoder import GEOCODER, understood

    for t in terms:  # how each place was understood, and what else its name could mean (stderr: JSON stays clean)
        if t.target == "location":
            print(f"{t.text} → {understood(GEOCODER.resolve_term(t.text), inline=False)}", file=sys.stderr)
    payload = _hits_payload(app, hits)
    if args.group_by == "place":
        from search.grouping import group_by_place

        groups = group_by_place(payload)
        text = "\n\n".join(f"{label}\n{_hits_text(members)}" for label, members in groups) or "no results"
        _emit(args, {"groups": [{"place": label, "hits": members} for label, members in groups]}, text)
        return 0
    _emit(args, payload, _hits_text(payload, app.settings.time_display if args.sort == "date" else None))
    return 0


def _resolve_id(app, args: argparse.Namespace) -> int:  # noqa: ANN001
    if args.id is not None:
        return int(args.id)
    row = app.image_by_path(Path(args.path))
    if row is None:
        raise LookupError(f"not indexed: {args.path}")
    return row.id


def cmd_similar(args: argparse.Namespace) -> int:
    app = _app(_settings(args))
    if args.id is not None:
        hits = app.similar(args.id, args.k, args.balance, args.within_km)
    elif args.within_km is not None:
        hits = app.similar(_resolve_id(app, args), args.k, args.balance, args.within_km)
    else:
        hits = app.similar_to_file(Path(args.path), args.k, args.balance)
    payload = _hits_payload(app, hits)
    _emit(args, payload, _hits_text(payload))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    app = _app(_settings(args))
    row = app.image(_resolve_id(app, args))
    if row is None:
        raise LookupError(f"no image with id {args.id}")
    rec = app.record(row)
    from search.records import orientation_text, taken_text

    shown = {**rec, "taken_at": taken_text(rec, app.settings.time_display), "orientation": orientation_text(rec)}
    shown.pop("taken_at_utc")
    _emit(args, rec, "\n".join(f"{k:19} {v}" for k, v in shown.items() if v not in (None, [], {}, "")))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from indexing.progress import duration_text

    payload = _app(_settings(args)).status()
    spaces, run = payload["spaces"], payload["running"]
    lines = [f"data: {payload['data_dir']}", f"{payload['indexed']} indexed, {payload['failed']} failed"]
    if "content" in spaces:
        ready = f"content search ready for {spaces['content']['images']:,} images"
        for name, sp in spaces.items():
            if name != "content" and sp["of"]:
                ready += f"; {name} {100 * sp['images'] // sp['of']}%"
        if run and run.get("eta_seconds"):
            ready += f" (about {duration_text(run['eta_seconds'])} left)"
        lines.append(ready)
    if run and not run.get("eta_seconds"):
        lines.append(f"indexing now: {run['done']:,} of {run['total']:,} files ({run['message']})")
    lines += [f"  {f['indexed']:>7} indexed {f['failed']:>5} failed  {f['path']}" for f in payload["folders"]]
    _emit(args, payload, "\n".join(lines))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app import create_app

    s = _settings(args)
    print(f"StyleSeek on http://{s.host}:{s.port}  (data: {s.resolved_data_dir})")
    uvicorn.run(create_app(s, warm=True), host=s.host, port=s.port, log_level="warning")
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    s = _settings(args)
    if args.llm:
        s.llm = args.llm
    app = _app(s)
    more = [h.image.id for h in app.search(args.more_like, 12)] if args.more_like else None
    from models.llm import locate_llm

    llm = locate_llm(s)
    if args.engine != "rules" and llm.present and not args.json:
        # a local model can take tens of seconds on a small machine: show that it is working
        from tqdm import tqdm

        done = threading.Event()
        wait = tqdm(desc=f"asking {llm.title} (at most {s.llm_timeout_s:g} s)", bar_format="{desc}: {elapsed}")

        def tick() -> None:
            while not done.wait(1.0):
                wait.refresh()

        threading.Thread(target=tick, daemon=True).start()
        try:
            out = app.suggest(args.description, more_like=more, engine=args.engine)
        finally:
            done.set()
            wait.close()
    else:
        out = app.suggest(args.description, more_like=more, engine=args.engine)
    lines = [f"suggested by {out.engine}:"]
    lines += [f"  {t.target:8} {t.weight:+.2f}  {t.text}" for t in out.terms]
    lines += [f"note: {n}" for n in out.notes]
    from search.query import format_query

    if out.terms:
        lines.append(f'search with: styleseek search "{format_query(out.terms)}"')
    _emit(args, out.to_dict(), "\n".join(lines))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from models import SPECS
    from models import weights as w
    from models.llm import download_llm, locate_llm, missing_message

    s = _settings(args)
    if args.action == "tiny":
        from models.tiny import write_tiny_models

        folders = write_tiny_models(Path(args.dir), llm=not args.no_llm)
        _emit(
            args,
            [str(f) for f in folders],
            "tiny random-weight models written (test use only):\n"
            + "\n".join(f"  {f}" for f in folders)
            + f"\nuse them with STYLESEEK_MODELS_DIR={Path(args.dir).absolute()}",
        )
        return 0
    if args.action == "download":
        done = [str(w.download(spec, s)) for spec in SPECS.values() if not w.locate(spec, s).present]
        if args.llm and not locate_llm(s).present:
            done.append(str(download_llm(s)))
        _emit(args, done, "\n".join(f"downloaded into {d}" for d in done) or "all models are present")
        return 0
    statuses = [w.locate(spec, s).to_dict() for spec in SPECS.values()]
    llm = locate_llm(s)
    statuses.append(llm.to_dict())
    text = "\n".join(
        f"{st['model']:8} {'present' if st['present'] else 'MISSING'}"
        f"{' (random test weights)' if st['random_weights'] else ''}  {st['title']}  "
        f"[{st['source']}: {st.get('folder') or st.get('path') or '-'}]"
        for st in statuses
    )
    if not all(st["present"] for st in statuses[:-1]):
        text += "\nrun `styleseek models download` on a connected machine, or see README.md#models"
    if not llm.present and llm.source != "off":
        text += "\nllm: " + missing_message(s)
    _emit(args, statuses, text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="data folder (env STYLESEEK_DATA_DIR, default ./data)")
    common.add_argument("--models-dir", type=Path, help="model folder (env STYLESEEK_MODELS_DIR)")
    common.add_argument("--device", choices=["auto", "cpu", "cuda"])
    common.add_argument("--json", action="store_true", help="machine-readable output (see README)")
    common.add_argument(
        "--time",
        choices=["taken", "here"],
        help="times on the clock where photos were taken (default) or this computer's (STYLESEEK_TIME_DISPLAY)",
    )
    common.add_argument("-v", "--verbose", action="store_true")

    p = argparse.ArgumentParser(prog="styleseek", description="Local image search by content.", parents=[common])
    sub = p.add_subparsers(dest="command", required=True)

    x = sub.add_parser("index", parents=[common], help="index folders (incremental)")
    x.add_argument("paths", nargs="+")
    x.add_argument("--batch-size", type=int)
    x.add_argument("--workers", type=int, help="decode threads")
    x.add_argument("-q", "--quiet", action="store_true")
    x.set_defaults(fn=cmd_index)

    x.add_argument("--ray", metavar="ADDRESS", help="embed on Ray (local, auto, ray://head:10001): see README")
    x.add_argument("--shards", type=Path, help="with --ray: the folder for the Parquet shards")
    x.add_argument("--ray-workers", type=int, default=0, help="with --ray: actors (default: a CPU or GPU each)")
    x.add_argument("--ray-gpus", type=float, default=0.0, help="with --ray: GPUs per actor (e.g. 1)")
    x = sub.add_parser("import", parents=[common], help="import the shards of `index --ray` into this catalog")
    x.add_argument("shards", type=Path)
    x.set_defaults(fn=cmd_import)

    x = sub.add_parser("search", parents=[common], help="search by weighted text terms (see README: query syntax)")
    x.add_argument("query", nargs="?", default="", help='e.g. "sunset over mountains, style: van gogh:0.9, -people"')
    x.add_argument("--term", action="append", metavar="TARGET:WEIGHT:TEXT", help="a term; repeatable")
    x.add_argument("--like", action="append", metavar="ID|PATH", help="a picture to find more like; repeatable")
    x.add_argument("--unlike", action="append", metavar="ID|PATH", help="a picture to find less like; repeatable")
    x.add_argument("-k", type=int, default=20)
    x.add_argument("--min-score", type=float, help="drop hits scoring below this (raw fused score)")
    x.add_argument("--min-match", type=float, help="drop hits scoring below this percent of the best hit's score")
    x.add_argument("--sort", choices=["score", "date"], default="score")
    x.add_argument("--coherence", type=float, default=0.0, help="style coherence boost, 0 (off) to 1")
    x.add_argument("--from", dest="date_from", metavar="DATE", help="taken on or after (2021, 2021-07, 2021-07-14)")
    x.add_argument("--to", dest="date_to", metavar="DATE", help="taken on or before")
    x.add_argument("--camera", help="part of the camera's make and model")
    x.add_argument("--with-gps", action="store_true", help="only pictures with a GPS position")
    x.add_argument("--group-by", choices=["place"], help="group the hits by the place they were taken")
    x.add_argument("--unplaced", choices=["keep", "drop"], default="keep", help="images without a place, under "
                   "location terms (default: keep)")  # fmt: skip
    x.set_defaults(fn=cmd_search)

    for name, fn, helptext in (("similar", cmd_similar, "images similar to one"), ("info", cmd_info, "one record")):
        x = sub.add_parser(name, parents=[common], help=helptext)
        g = x.add_mutually_exclusive_group(required=True)
        g.add_argument("path", nargs="?")
        g.add_argument("--id", type=int)
        if name == "similar":
            x.add_argument("-k", type=int, default=20)
            x.add_argument("--balance", type=float, default=0.0, help="0 = content only, 1 = style only")
            x.add_argument("--within-km", type=float, help="only images taken within this radius of this one")
        x.set_defaults(fn=fn)

    x = sub.add_parser("suggest", parents=[common], help="weighted terms for a description (local LLM or rules)")
    x.add_argument("description", help='e.g. "impressionist paintings of people at the beach"')
    x.add_argument("--engine", choices=["auto", "llm", "rules"], default="auto", help="default: the LLM if installed")
    x.add_argument("--more-like", metavar="QUERY", help="also look at what this query's top results look like")
    x.add_argument("--llm", help="a .gguf file or a Hugging Face repo id (env STYLESEEK_LLM)")
    x.set_defaults(fn=cmd_suggest)

    x = sub.add_parser("status", parents=[common], help="counts per folder")
    x.set_defaults(fn=cmd_status)

    x = sub.add_parser("serve", parents=[common], help="start the web UI")
    x.add_argument("--host")
    x.add_argument("--port", type=int)
    x.set_defaults(fn=cmd_serve)

    x = sub.add_parser("models", parents=[common], help="model weights: status, download, tiny DIR")
    msub = x.add_subparsers(dest="action", required=True)
    msub.add_parser("status", parents=[common])
    d = msub.add_parser("download", parents=[common])
    d.add_argument("--llm", action="store_true", help="also the suggestion LLM (about 1 GB)")
    t = msub.add_parser("tiny", parents=[common])
    t.add_argument("dir")
    t.add_argument("--no-llm", action="store_true", help="skip the tiny random GGUF chat model")
    x.set_defaults(fn=cmd_models)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        logging.getLogger("root").setLevel(logging.ERROR)  # open_clip logs through the root logger
    from indexing.decoded import ImageError
    from models.errors import ModelError
    from search.engine import QueryError

    try:
        return int(args.fn(args) or 0)
    except (ModelError, QueryError, LookupError, FileNotFoundError, NotADirectoryError, ValueError, ImageError) as e:
        print(f"styleseek: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001
        if args.verbose or os.environ.get("STYLESEEK_DEBUG"):
            raise
        print(f"styleseek: error: {type(e).__name__}: {e} (run with -v for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
