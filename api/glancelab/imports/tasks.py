"""/v2/tasks: what an import is doing, for its project (admins see every task)."""

from __future__ import annotations

from glancelab import errors
from glancelab.identity.context import RequestContext
from glancelab.db import pages
from glancelab.db.models import Task
from glancelab.identity import access
from glancelab.images.views import isotime
from glancelab.imports.runner import IMPORTER_ROLES
from glancelab.imports.uri_filter import redacted

STATUSES = ("pending", "processing", "success", "failure")


def task_view(task: Task) -> dict:
    return {
        "id": task.id, "type": task.type, "status": task.status, "owner": task.owner,
        "input": _shown_input(task.input or {}),
        "result": task.result,
        "message": task.message, "image_id": task.image_id, "request_id": task.request_id,
        "user_id": task.user_id, "expires_at": isotime(task.expires_at),
        "created_at": isotime(task.created_at), "updated_at": isotime(task.updated_at),
        "self": f"/v2/tasks/{task.id}", "schema": "/v2/schemas/task",
    }


def _shown_input(request: dict) -> dict:
    """A signed or password-bearing web-download URI is not shown back, even to its owner."""
    request = {key: value for key, value in request.items() if key != IMPORTER_ROLES}
    method = request.get("method") or {}
    if isinstance(method.get("uri"), str):
        request = {**request, "method": {**method, "uri": redacted(method["uri"])}}
    return request


def _visible(ctx: RequestContext):
    query = Task.select()
    if not ctx.is_admin:
        query = query.where(Task.owner == ctx.project_id)
    return query


def get_task(ctx: RequestContext, task_id: str) -> Task:
    access.authorize(ctx, "tasks_api_access")
    access.authorize(ctx, "get_task")
    task = _visible(ctx).where(Task.id == task_id).first()
    if task is None:
        raise errors.not_found(f"Task with identifier {task_id} not found")
    return task


def list_tasks(ctx: RequestContext, params: dict, limit_max: int) -> dict:
    access.authorize(ctx, "tasks_api_access")
    access.authorize(ctx, "get_tasks")
    query = _visible(ctx)
    status = params.get("status")
    if status is not None:
        if status not in STATUSES:
            raise errors.bad_request(f"Invalid status value: {status}; use one of "
                                     f"{', '.join(STATUSES)}.")
        query = query.where(Task.status == status)
    if params.get("type"):
        query = query.where(Task.type == params["type"])
    direction = params.get("sort_dir", "desc")
    if direction not in ("asc", "desc"):
        raise errors.bad_request("sort_dir must be asc or desc.")
    sorting = pages.Sorting(((Task.created_at, direction), (Task.id, direction)))
    limit = pages.limit_of(params.get("limit"), limit_max, limit_max)
    marker = pages.anchor(_visible(ctx), Task.id, params.get("marker"), "task")
    rows, more = pages.read(query, sorting, limit, marker)
    return {"tasks": [task_view(t) for t in rows],
            **pages.links("/v2/tasks", params, rows[-1].id if rows else None, more),
            "schema": "/v2/schemas/tasks"}


def image_tasks(ctx: RequestContext, image_id: str) -> dict:
    image = access.get_visible_image(ctx, image_id)
    # A public image's tasks are still its owner's: user and request ids, URIs.
    rows = _visible(ctx).where(Task.image_id == image.id).order_by(Task.created_at.desc())
    return {"tasks": [task_view(t) for t in rows]}
