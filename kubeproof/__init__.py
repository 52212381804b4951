"""kubeproof: a formal model of the Kubernetes control plane and a checker of properties over it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kubeproof")
except PackageNotFoundError:
    __version__ = "0.0.0"

__all__ = ["__version__"]
