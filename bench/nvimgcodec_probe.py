"""What nvImageCodec's decoder can give besides interleaved RGB (issue 13): its DecodeParams, colour specs and
the output of each on a 12-MP JPEG, with the time of a batch of 64 on the hardware engine.

    python bench/nvimgcodec_probe.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import make_photo  # noqa: E402


def main() -> None:
    import torch
    from nvidia import nvimgcodec as nv

    print("version", getattr(nv, "__version__", "?"))
    print("names", [n for n in dir(nv) if not n.startswith("_")])
    print("DecodeParams", nv.DecodeParams.__init__.__doc__)
    for enum in ("ColorSpec", "SampleFormat", "ChromaSubsampling"):
        if hasattr(nv, enum):
            print(enum, list(getattr(nv, enum).__members__))
    path = make_photo((1, "/tmp/probe.jpg"))
    blob = Path(path).read_bytes()
    dec = nv.Decoder(backends=[nv.Backend(nv.BackendKind.HW_GPU_ONLY)], max_num_cpu_threads=4)
    specs = [m for m in nv.ColorSpec.__members__] if hasattr(nv, "ColorSpec") else []
    for spec in specs:
        try:
            params = nv.DecodeParams(apply_exif_orientation=True, color_spec=getattr(nv.ColorSpec, spec))
            im = dec.decode([blob], params=params)[0]
            if im is None:
                print(spec, "refused")
                continue
            info = {a: str(getattr(im, a)) for a in dir(im) if not a.startswith("_") and not callable(getattr(im, a))}
            print(spec, info)
            dec.decode([blob] * 64, params=params)
            torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(4):
                dec.decode([blob] * 64, params=params)
            torch.cuda.synchronize()
            print(spec, "img/s", round(256 / (time.perf_counter() - t), 1))
        except Exception as e:  # noqa: BLE001 - each spec on its own
            print(spec, "error", type(e).__name__, str(e)[:300])


if __name__ == "__main__":
    main()
