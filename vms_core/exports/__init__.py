"""Evidence export: a time range of several cameras as a signed package a court can check.

``ExportService`` (service.py) runs the jobs; ``build_package`` / ``verify_package``
(package.py) make and check packages; ``SigningKey`` (signing.py) is the server's Ed25519
key. HTTP: ``vms_core.api.routes.exports``; CLI: ``vms export verify``.
"""

from vms_core.exports.package import (
    BuiltPackage,
    CameraClip,
    ExportRequest,
    VerifyReport,
    build_package,
    verify_package,
)
from vms_core.exports.service import ExportJob, ExportService
from vms_core.exports.signing import SigningKey

__all__ = [
    "BuiltPackage",
    "CameraClip",
    "ExportJob",
    "ExportRequest",
    "ExportService",
    "SigningKey",
    "VerifyReport",
    "build_package",
    "verify_package",
]
