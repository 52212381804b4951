"""Errors a user can cause: each is one clear line, and the command line exits 2 on it."""

__all__ = ["KubeproofError", "ManifestError", "QuantityError"]


class KubeproofError(Exception):
    """A problem with the user's input; its message is the one line the user sees."""


class QuantityError(KubeproofError, ValueError):
    """A string that is not a valid resource.Quantity."""


class ManifestError(KubeproofError):
    """A manifest that cannot be read or that the api-server would reject.

    The message names the file, the document index and the field path:
    ``deploy.yaml[0].spec.template.spec.tolerations[1].operator: must be one of Exists, Equal``.
    """

    def __init__(self, source: str, document: int | None, path: str, message: str):
        self.source = source
        self.document = document
        self.path = path
        self.reason = message
        where = source if document is None else f"{source}[{document}]"
        if path:
            where = f"{where}.{path}" if not path.startswith("[") else f"{where}{path}"
        super().__init__(f"{where}: {message}")
