"""Evidence export: a time range of several cameras as a signed package a court can check.

``ExportService`` (service.py) runs the jobs; ``build_package`` (package.py) makes
packages and ``verify_package`` (verify.py) checks them; ``SigningKey`` (signing.py) is
the server's Ed25519 key. HTTP: ``vms_core.api.routes.exports``; CLI: ``vms export verify``.
"""

from vms_core.exports.package import BuiltPackage, CameraClip, ExportRequest, build_package
from vms_core.exports.service import ExportJob, ExportService
from vms_core.exports.signing import SigningKey
from vms_core.exports.verify import VerifyReport, verify_package

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
