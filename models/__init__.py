"""Model specs, weight resolution and encoders. The only package that imports torch/open_clip.

Importing this package is cheap: torch loads only when an encoder is first used.
"""

from models.errors import ModelError, WeightsMissingError
from models.specs import CONTENT, SPECS, ModelSpec

__all__ = ["CONTENT", "SPECS", "ModelError", "ModelSpec", "WeightsMissingError"]
