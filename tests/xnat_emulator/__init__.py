"""A loopback XNAT for tests: the REST, ROI, Container Service and Event Service answers
the SDK uses, backed by a LocalArchive. Not part of the package; see server.py."""

from xnat_emulator.server import Fault, Request, Response, XnatEmulator

__all__ = ["Fault", "Request", "Response", "XnatEmulator"]
