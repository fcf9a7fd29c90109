"""The values of Image.status, and the groups of them that several layers ask about.

Stored in the database, so they are the database's vocabulary: quotas count by them,
recovery looks for them, and images/lifecycle.py is the one module that changes them.
"""

QUEUED = "queued"
SAVING = "saving"
UPLOADING = "uploading"
IMPORTING = "importing"
ACTIVE = "active"
DEACTIVATED = "deactivated"
KILLED = "killed"
DELETED = "deleted"
PENDING_DELETE = "pending_delete"

# The enum the image schema publishes, in Glance's order.
STATUSES = [QUEUED, SAVING, ACTIVE, KILLED, DELETED, UPLOADING, IMPORTING, PENDING_DELETE,
            DEACTIVATED]
# Someone is writing the image's data: recovery requeues these when the writer is gone.
WRITING = (SAVING, UPLOADING)
# The image has data that may be read.
READABLE = (ACTIVE, DEACTIVATED)
# Waiting for an import: staged data of these images must be kept.
AWAITING_IMPORT = (UPLOADING, IMPORTING)
