"""Evidence export jobs. Operators export cameras they may see; a job is visible to the
user who asked for it (by user id, not name) and to admins, and only while that user may
still see every camera in it: losing a camera loses its exports too."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from vms_core.accounts import Principal
from vms_core.api.auth import principal, remote
from vms_core.api.bodies import ApiTime, Body, Id, read_json, schema_of
from vms_core.api.errors import ApiError
from vms_core.api.keys import AUDIT, CAMERAS, EXPORTS
from vms_core.api.registry import ApiRegistry
from vms_core.exports import ExportJob
from vms_core.timeutil import to_us

MAX_EXPORT_SECONDS = 7 * 24 * 3600


class NewExport(Body):
    cameras: list[Id] = Field(min_length=1, max_length=64)
    start: ApiTime
    end: ApiTime
    reason: str = Field(min_length=1, max_length=2000)


def _may_see(who: Principal, job: ExportJob) -> bool:
    """Admins see every job; anyone else their own, while they may see all its cameras
    (checked on every read and download: permissions change)."""
    if who.has_role("admin"):
        return True
    return job.created_by_id == who.user_id and all(who.can_see(c) for c, _ in job.cameras)


def _job_for(request: web.Request) -> ExportJob:
    who = principal(request)
    job_id = request.match_info["id"]
    job = request.app[EXPORTS].get(job_id)
    if job is None or not _may_see(who, job):
        raise ApiError(404, f"no export {job_id}")
    return job


async def delete_export(request: web.Request) -> web.Response:
    """Delete a finished or failed export and its package (the owner, or an admin)."""
    who = principal(request)
    exports = request.app[EXPORTS]
    job_id = request.match_info["id"]
    job = exports.get(job_id)
    if job is None or not _may_see(who, job):
        raise ApiError(404, f"no export {job_id}")
    try:
        await exports.delete(job_id, who.username, remote(request))
    except KeyError:
        raise ApiError(404, f"no export {job_id}") from None
    except ValueError as exc:
        raise ApiError(409, str(exc)) from None
    return web.Response(status=204)


async def signing_key(request: web.Request) -> web.Response:
    key = await request.app[EXPORTS].signing_key()
    return web.json_response({"fingerprint": key.fingerprint, "pem": key.public_pem().decode()})


async def create(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_json(request, NewExport)
    start, end = to_us(body.start), to_us(body.end)
    if end <= start:
        raise ApiError(400, "end: must be after start")
    if end - start > MAX_EXPORT_SECONDS * 1_000_000:
        raise ApiError(400, f"end: an export covers at most {MAX_EXPORT_SECONDS // 86400} days")
    cameras: list[tuple[int, str]] = []
    for camera_id in dict.fromkeys(body.cameras):
        camera = await request.app[CAMERAS].get(camera_id, who)
        if camera is None:
            raise ApiError(400, f"cameras: no camera {camera_id}")
        cameras.append((camera.id, camera.name))
    job = await request.app[EXPORTS].submit(
        cameras, start, end, body.reason, who.username, who.user_id, remote(request)
    )
    return web.json_response(
        job.to_json(), status=202, headers={"Location": f"/api/exports/{job.id}"}
    )


async def list_exports(request: web.Request) -> web.Response:
    who = principal(request)
    jobs = [j.to_json() for j in request.app[EXPORTS].jobs() if _may_see(who, j)]
    return web.json_response(jobs)


async def get_export(request: web.Request) -> web.Response:
    return web.json_response(_job_for(request).to_json())


async def package(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    job = _job_for(request)
    path = request.app[EXPORTS].package_path(job)
    if path is None:
        raise ApiError(409, f"export {job.id} is {job.state}, not done")
    await request.app[AUDIT].record(
        "export.download",
        username=who.username,
        target=f"export:{job.id}",
        remote=remote(request),
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )


def register(api: ApiRegistry) -> None:
    schema = api.schema(
        "Export",
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "cameras": {"type": "array", "items": {"type": "integer"}},
                "start": {"type": "string"},
                "end": {"type": "string"},
                "reason": {"type": "string"},
                "created_by": {"type": "string"},
                "created": {"type": "string"},
                "finished": {"type": ["string", "null"]},
                "files": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "bytes": {"type": "integer"},
                            "sha256": {"type": "string"},
                        },
                    },
                },
                "error": {"type": ["string", "null"]},
                "package": {"type": ["string", "null"]},
            },
        },
    )

    # Before /api/exports/{id}: the router tries resources in the order they are added.
    api.route(
        "GET",
        "/api/exports/signing-key",
        summary="The server's Ed25519 public key that signs evidence packages",
        tag="evidence",
        response={
            "type": "object",
            "properties": {"fingerprint": {"type": "string"}, "pem": {"type": "string"}},
        },
    )(signing_key)

    api.route(
        "POST",
        "/api/exports",
        summary="Export a time range of cameras as a signed evidence package (a job)",
        tag="evidence",
        role="operator",
        request=schema_of(NewExport),
        response=schema,
        status=202,
    )(create)

    api.route(
        "GET",
        "/api/exports",
        summary="Export jobs (admins: all; others: their own)",
        tag="evidence",
        role="operator",
        response={"type": "array", "items": schema},
    )(list_exports)

    api.route(
        "GET",
        "/api/exports/{id}",
        summary="An export job: state, progress 0..1, files, error",
        tag="evidence",
        role="operator",
        response=schema,
    )(get_export)

    api.route(
        "GET",
        "/api/exports/{id}/package",
        summary="The finished evidence package (zip)",
        tag="evidence",
        role="operator",
        response={"type": "string", "format": "binary"},
        content_type="application/zip",
        errors=(409,),
    )(package)

    api.route(
        "DELETE",
        "/api/exports/{id}",
        summary="Delete a finished or failed export and its package (its owner, or an admin)",
        tag="evidence",
        role="operator",
        status=204,
        errors=((409, "The export is still queued or being built"),),
    )(delete_export)
