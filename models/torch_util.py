"""PyTorch pieces: device choice and the towers as modules (what the torch backend runs and what OpenVINO
converts). Imported only where PyTorch is needed."""

from __future__ import annotations

import os

# The GPU's hardware work queues a process spreads its CUDA streams over: the driver's 8 by default, the most, 32,
# here. The GPU path runs some twenty streams at once (nvjpeg's fourteen, the decoder's, the resizes', the
# towers'), and streams that share a queue wait for each other's work: beside all three towers nvImageCodec's
# own call took 93 ms a batch of 64 with 8, 58 ms with 32, and indexing ran 546-555 img/s against 503-538
# (BENCHMARKS.md). Read when CUDA starts, so set here, before pick_device first touches it; a user's value stays.
os.environ.setdefault("CUDA_DEVICE_MAX_CONNECTIONS", "32")

import torch  # noqa: E402


def pick_device(wanted: str) -> torch.device:
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("STYLESEEK_DEVICE=cuda but torch sees no CUDA device")
        # the models run on the GPU: torch's CPU thread pool would only spin against FAISS's (BENCHMARKS.md)
        torch.set_num_threads(min(2, torch.get_num_threads()))
        return torch.device("cuda")
    return torch.device("cpu")


class OpenClipText(torch.nn.Module):
    """open_clip's encode_text without the padding after the longest text: with CLIP's causal mask the
    end-of-text output never sees what follows it, so the result is the same at a fraction of the cost."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.m = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        m = self.m
        n = tokens.shape[1]
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens).to(cast) + m.positional_embedding[:n].to(cast)
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask[:n, :n]))
        x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        return m.text_projection(x) if isinstance(m.text_projection, torch.nn.Linear) else x @ m.text_projection


class HfClipImage(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.vision, self.proj = model.vision_model, model.visual_projection

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.proj(self.vision(pixel_values=pixels).pooler_output)


class HfClipText(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.text, self.proj = model.text_model, model.text_projection

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.proj(self.text(input_ids=ids).pooler_output)


class VaeStatistics(torch.nn.Module):
    """Per down block of the VAE encoder: channel mean and std, each depth scaled to unit length."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder.conv_in(x)
        parts = []
        for block in self.encoder.down_blocks:
            x = block(x)
            f = x.float().flatten(2)  # (n, c, h*w)
            stats = torch.cat([f.mean(dim=2), f.std(dim=2)], dim=1)
            parts.append(torch.nn.functional.normalize(stats, dim=1))
        return torch.cat(parts, dim=1)
