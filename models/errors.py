class ModelError(RuntimeError):
    """A model could not be loaded or run."""


class WeightsMissingError(ModelError):
    """Weights are not on this machine and could not be fetched; the message says how to provide them."""
