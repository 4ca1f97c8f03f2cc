"""Exceptions raised by sarcoma-xnat.

One root, :class:`SarcomaXnatError`, and a small tree below it::

    SarcomaXnatError
    ├── ConfigurationError (ValueError)     bad parameters, settings, secrets, command JSON
    │   └── CommandValidationError          a Container Service command that XNAT would refuse
    ├── InputDataError (ValueError)         input data that a step refuses to process
    │   ├── GeometryError                   missing slices, mixed orientation, non-overlapping series
    │   ├── SeriesSelectionError            T1/T2 series missing or ambiguous
    │   └── AnnotationError                 empty mask, dangling reference, unknown segment
    ├── DeidentificationError               a file that cannot be de-identified safely
    ├── ArchiveError (OSError)              the local or XNAT archive cannot do what was asked
    │   └── ObjectNotFoundError (LookupError)
    ├── XnatError (OSError)                 HTTP conversation with XNAT failed
    │   ├── XnatAuthError
    │   └── XnatNotFoundError (LookupError)
    ├── PacsError (OSError)                 DICOM network (C-FIND/C-MOVE/C-STORE) failed
    ├── ContainerError                      image build or container run failed
    └── ModelError                          training, evaluation or federated learning failed
        └── ModelMismatchError              a model that does not fit the data it is given

Every error may carry *where* it happened (project, subject, session, scan, file)
so that a message names the offending object. Never put PHI (patient names, IDs,
birth dates) into an error: use archive labels, which are pseudonyms.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnnotationError",
    "ArchiveError",
    "CommandValidationError",
    "ConfigurationError",
    "ContainerError",
    "DeidentificationError",
    "GeometryError",
    "InputDataError",
    "ModelError",
    "ModelMismatchError",
    "ObjectNotFoundError",
    "PacsError",
    "SarcomaXnatError",
    "SeriesSelectionError",
    "XnatAuthError",
    "XnatError",
    "XnatNotFoundError",
]

_CONTEXT_KEYS = ("project", "subject", "session", "scan", "assessor", "resource", "file")


class SarcomaXnatError(Exception):
    """Root of every error raised by sarcoma-xnat.

    Parameters
    ----------
    message : str
        What was expected and what was found.
    **context : str
        Where it happened; any of ``project``, ``subject``, ``session``, ``scan``,
        ``assessor``, ``resource``, ``file``. Rendered after the message.
    """

    def __init__(self, message: str, **context: Any) -> None:
        unknown = set(context) - set(_CONTEXT_KEYS)
        if unknown:
            raise TypeError(f"unknown error context keys: {sorted(unknown)}")
        self.message = message
        self.context = {k: str(v) for k, v in context.items() if v is not None}
        super().__init__(self.__str__())

    def with_context(self, **context: Any) -> SarcomaXnatError:
        """Return this error with more context filled in (existing keys win)."""
        for key, value in context.items():
            if value is not None and key in _CONTEXT_KEYS:
                self.context.setdefault(key, str(value))
        self.args = (self.__str__(),)
        return self

    def __str__(self) -> str:
        if not self.context:
            return self.message
        where = ", ".join(f"{k} {self.context[k]}" for k in _CONTEXT_KEYS if k in self.context)
        return f"{self.message} [{where}]"


class ConfigurationError(SarcomaXnatError, ValueError):
    """A parameter, setting, secret or configuration file is missing or wrong."""


class CommandValidationError(ConfigurationError):
    """A Container Service command JSON that XNAT would refuse; ``errors`` lists every problem."""

    def __init__(self, message: str, errors: list[str] | None = None, **context: Any) -> None:
        self.errors = list(errors or [])
        if self.errors:
            message = message + ":\n  - " + "\n  - ".join(self.errors)
        super().__init__(message, **context)


class InputDataError(SarcomaXnatError, ValueError):
    """Input data that a step refuses to process rather than guess about."""


class GeometryError(InputDataError):
    """Image geometry is inconsistent: missing slices, mixed orientations, non-overlap."""


class SeriesSelectionError(InputDataError):
    """The series a step needs is missing or ambiguous in a session."""


class AnnotationError(InputDataError):
    """An ROI collection is empty, unreadable or references data that is not there."""


class DeidentificationError(SarcomaXnatError):
    """A file cannot be de-identified safely (burned-in text, unreadable, unsupported)."""


class ArchiveError(SarcomaXnatError, OSError):
    """The archive (local folder or XNAT) cannot do what was asked."""


class ObjectNotFoundError(ArchiveError, LookupError):
    """A project, subject, session, scan, assessor or resource does not exist."""


class XnatError(SarcomaXnatError, OSError):
    """An HTTP request to XNAT failed; carries method, URL and status, never the password."""

    def __init__(
        self,
        message: str,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        **context: Any,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        if method or url:
            message = f"{message} ({method or '?'} {url or '?'} -> {status if status is not None else 'no response'})"
        super().__init__(message, **context)


class XnatAuthError(XnatError):
    """XNAT refused the credentials or the session expired."""


class XnatNotFoundError(XnatError, LookupError):
    """XNAT answered 404 for an object."""


class PacsError(SarcomaXnatError, OSError):
    """A DICOM network operation with a PACS failed."""


class ContainerError(SarcomaXnatError):
    """Building an image or running a container failed."""


class ModelError(SarcomaXnatError):
    """Training, evaluating or federating a model failed."""


class ModelMismatchError(ModelError):
    """A model whose encoding, features, image size or preprocessing differ from the data's.

    ``mismatch`` names what differs: ``"encoding version"``, ``"feature names"``,
    ``"image size"`` or ``"preprocessing parameters"``.
    """

    def __init__(self, message: str, mismatch: str = "", **context: Any) -> None:
        self.mismatch = mismatch
        super().__init__(message, **context)
