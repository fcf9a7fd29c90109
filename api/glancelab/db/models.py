"""Image metadata tables (peewee models).

Core attributes are columns so that every list filter and sort key is plain SQL on an
index; extra properties, tags, members and locations are child tables.
"""

from __future__ import annotations

import datetime
import json

import peewee

from glancelab.db import database


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class JSONField(peewee.TextField):
    """A JSON document in a TEXT column: the same on SQLite and PostgreSQL, no migration."""
    decode_raw = True  # db/prepared.py decodes it in raw rows too

    def db_value(self, value):
        return None if value is None else json.dumps(value)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class ImageCreatedAt(peewee.DateTimeField):
    """A copy of the image's created_at beside a tag, property or share, so that a list
    filtered on it walks that table's index in the list's order and stops at the page's
    end. The database fills it on insert (a trigger, db/migrations.py), whoever inserts
    and whichever release: the column is nullable only so that a release that does not
    know it can still insert."""
    filled_by_database = True

    def __init__(self, **kwargs):
        super().__init__(null=True, **kwargs)


class Image(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True)
    name = peewee.CharField(max_length=255, null=True, index=True)
    status = peewee.CharField(max_length=30, index=True)
    visibility = peewee.CharField(max_length=20, index=True)
    protected = peewee.BooleanField(default=False)
    os_hidden = peewee.BooleanField(default=False, index=True)
    owner = peewee.CharField(max_length=255, null=True, index=True)
    checksum = peewee.CharField(max_length=32, null=True, index=True)
    os_hash_algo = peewee.CharField(max_length=64, null=True)
    os_hash_value = peewee.CharField(max_length=128, null=True, index=True)
    size = peewee.BigIntegerField(null=True, index=True)
    virtual_size = peewee.BigIntegerField(null=True)
    container_format = peewee.CharField(max_length=32, null=True, index=True)
    disk_format = peewee.CharField(max_length=32, null=True, index=True)
    min_disk = peewee.IntegerField(default=0)
    min_ram = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow, index=True)
    # Who is writing data right now ("host:pid"); lets a restart or a dead worker's
    # cleanup put exactly its own interrupted uploads back to queued.
    upload_owner = peewee.CharField(max_length=255, null=True, index=True)
    # Bytes an upload in progress has been granted against its project's quota.
    reserved = peewee.BigIntegerField(default=0)

    class Meta:
        # A project's own images and the images of one visibility, each in the default
        # list order: images/listing.py reads each as its own walk.
        indexes = ((("created_at", "id"), False), (("owner", "created_at", "id"), False),
                   (("visibility", "created_at", "id"), False))


class ImageProperty(BaseModel):
    image = peewee.ForeignKeyField(Image, backref="properties", on_delete="CASCADE")
    name = peewee.CharField(max_length=255)
    value = peewee.TextField()
    image_created_at = ImageCreatedAt()

    class Meta:
        # (name, value, image): a property filter finds its images in the index alone;
        # (name, value, image_created_at, image): in the default list order.
        indexes = ((("image", "name"), True), (("name", "value"), False),
                   (("name", "value", "image"), False),
                   (("name", "value", "image_created_at", "image"), False))


def set_property(image_id: str, name: str, value: str) -> None:
    """Set one extra property of an image, whether or not it had it."""
    (ImageProperty.insert(image=image_id, name=name, value=value)
     .on_conflict(conflict_target=[ImageProperty.image, ImageProperty.name],
                  update={ImageProperty.value: value}).execute())


class ImageTag(BaseModel):
    image = peewee.ForeignKeyField(Image, backref="tag_rows", on_delete="CASCADE")
    value = peewee.CharField(max_length=255)
    image_created_at = ImageCreatedAt()

    class Meta:
        # (value, image): a tag filter finds its images in the index alone;
        # (value, image_created_at, image): in the default list order.
        indexes = ((("image", "value"), True), (("value",), False),
                   (("value", "image"), False), (("value", "image_created_at", "image"), False))


class ImageMember(BaseModel):
    image = peewee.ForeignKeyField(Image, backref="members", on_delete="CASCADE")
    member = peewee.CharField(max_length=255)
    status = peewee.CharField(max_length=20, default="pending")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    image_created_at = ImageCreatedAt()

    class Meta:
        # (member, image_created_at, image): the images shared with a project, in the
        # default list order.
        indexes = ((("image", "member"), True), (("member", "status"), False),
                   (("member", "image_created_at", "image"), False))


class ImageLocation(BaseModel):
    image = peewee.ForeignKeyField(Image, backref="location_rows", on_delete="CASCADE")
    url = peewee.TextField()
    metadata = JSONField(default=dict)  # e.g. {"store": "fast"}
    position = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("image", "position"), False),)


class CachedImageNode(BaseModel):
    """Which API nodes hold an image in their cache (Glance's centralized_db node
    references), written by each node's cache, read by GET /v2/cache/nodes/{image_id}."""
    image = peewee.ForeignKeyField(Image, backref="cache_nodes", on_delete="CASCADE")
    node_reference_url = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("image", "node_reference_url"), True),)


class PendingUndo(BaseModel):
    """Backend work a failed write still owes (an S3 multipart upload to abort, Swift
    segments to delete); kept until it is done (stores/undo.py)."""
    store = peewee.CharField(max_length=255)
    key = peewee.TextField()  # where: bucket/object, container/segment prefix
    ref = peewee.TextField()  # what: the multipart upload id, ...
    # The process writing ("host:pid"); STUCK once its own undo failed: anyone retries it.
    holder = peewee.CharField(max_length=255, index=True)
    created_at = peewee.DateTimeField(default=utcnow)


class ProjectLimit(BaseModel):
    """A per-project override of a limit (image_size_total, image_count_total, ...)."""
    project_id = peewee.CharField(max_length=255)
    resource = peewee.CharField(max_length=64)
    limit = peewee.BigIntegerField()
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project_id", "resource"), True),)


class Task(BaseModel):
    """An image import running in the background (Glance's api_image_import task)."""
    id = peewee.CharField(max_length=36, primary_key=True)
    type = peewee.CharField(max_length=30, default="api_image_import")
    status = peewee.CharField(max_length=30, index=True)  # pending, processing, success, failure
    owner = peewee.CharField(max_length=255, index=True)
    user_id = peewee.CharField(max_length=255, null=True)
    image_id = peewee.CharField(max_length=36, index=True)
    request_id = peewee.CharField(max_length=64, null=True)
    input = JSONField(default=dict)   # method, stores, all_stores_must_succeed
    result = JSONField(null=True)     # stores done so far, then the outcome
    message = peewee.TextField(default="")
    # "host:pid" of the process running it, so a restart fails exactly its own tasks.
    worker = peewee.CharField(max_length=255, null=True, index=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(null=True)


class MetadefNamespace(BaseModel):
    """A metadata definition namespace (catalog of properties, objects and tags)."""
    namespace = peewee.CharField(max_length=80, unique=True)
    display_name = peewee.CharField(max_length=80, null=True)
    description = peewee.TextField(null=True)
    visibility = peewee.CharField(max_length=32, default="private")
    protected = peewee.BooleanField(default=False)
    owner = peewee.CharField(max_length=255, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class MetadefObject(BaseModel):
    namespace = peewee.ForeignKeyField(MetadefNamespace, backref="objects", on_delete="CASCADE")
    name = peewee.CharField(max_length=80)
    description = peewee.TextField(null=True)
    required = JSONField(default=list)    # property names
    properties = JSONField(default=dict)  # name -> property definition
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("namespace", "name"), True),)


class MetadefProperty(BaseModel):
    namespace = peewee.ForeignKeyField(MetadefNamespace, backref="properties",
                                       on_delete="CASCADE")
    name = peewee.CharField(max_length=255)
    definition = JSONField()  # title, type, and the rest of its schema
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("namespace", "name"), True),)


class MetadefTag(BaseModel):
    namespace = peewee.ForeignKeyField(MetadefNamespace, backref="tags", on_delete="CASCADE")
    name = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("namespace", "name"), True),)


class MetadefResourceType(BaseModel):
    name = peewee.CharField(max_length=80, unique=True)
    protected = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class MetadefResourceTypeAssociation(BaseModel):
    namespace = peewee.ForeignKeyField(MetadefNamespace, backref="associations",
                                       on_delete="CASCADE")
    resource_type = peewee.ForeignKeyField(MetadefResourceType, backref="associations",
                                           on_delete="CASCADE")
    prefix = peewee.CharField(max_length=80, null=True)
    properties_target = peewee.CharField(max_length=80, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("namespace", "resource_type"), True),)


METADEF_MODELS = [MetadefNamespace, MetadefObject, MetadefProperty, MetadefTag,
                  MetadefResourceType, MetadefResourceTypeAssociation]


class DeletedImage(BaseModel):
    """Ids of deleted images: as Glance (whose rows are only soft-deleted), an id once
    issued is never issued again, so a deleted image's id cannot be taken over."""
    id = peewee.CharField(max_length=36, primary_key=True)
    deleted_at = peewee.DateTimeField(default=utcnow)


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    applied_at = peewee.DateTimeField(default=utcnow)


ALL_MODELS = [Image, ImageProperty, ImageTag, ImageMember, ImageLocation, CachedImageNode,
              PendingUndo, ProjectLimit, Task,
              *METADEF_MODELS, DeletedImage, SchemaVersion]


# The queries every GET of one image makes (see db/prepared.py for why).
from glancelab.db.prepared import PreparedQuery  # noqa: E402

IMAGE_BY_ID = PreparedQuery(lambda image_id: Image.select().where(Image.id == image_id))
PROPERTIES_OF = PreparedQuery(lambda image_id: ImageProperty.select(
    ImageProperty.name, ImageProperty.value).where(ImageProperty.image == image_id))
TAGS_OF = PreparedQuery(lambda image_id: ImageTag.select(ImageTag.value)
                        .where(ImageTag.image == image_id).order_by(ImageTag.id))
LOCATIONS_OF = PreparedQuery(lambda image_id: ImageLocation.select(
    ImageLocation.url, ImageLocation.metadata).where(ImageLocation.image == image_id)
    .order_by(ImageLocation.position, ImageLocation.id))
