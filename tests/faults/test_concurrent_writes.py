"""Eight writers at once, on SQLite and on PostgreSQL: no request may fail for the database.

Creates, property patches and create+delete pairs from 8 threads against a 2-worker
server (the `api` fixture runs once per database).
"""

import concurrent.futures
import time

from helpers import ADMIN, Client

WRITERS = 8
SECONDS = 4


def writer(url: str, number: int, stop_at: float) -> list[str]:
    client = Client(url, ADMIN)
    failures = []
    own = client.create_image(name=f"writer-{number}")
    step = 0
    while time.monotonic() < stop_at:
        step += 1
        kind = step % 3
        if kind == 0:
            response = client.post("/v2/images", json={"name": f"w{number}-{step}"})
        elif kind == 1:
            response = client.patch(f"/v2/images/{own['id']}", [
                {"op": "add", "path": f"/p{step % 5}", "value": str(step)}])
        else:
            response = client.post("/v2/images", json={"name": "short-lived"})
            if response.status_code == 201:
                response = client.delete(f"/v2/images/{response.json()['id']}")
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {response.text[:200]}")
    return failures


def test_eight_concurrent_writers_never_get_a_5xx(api):
    stop_at = time.monotonic() + SECONDS
    with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(lambda n: writer(api.url, n, stop_at), range(WRITERS)))
    failures = [failure for result in results for failure in result]
    assert failures == [], f"{len(failures)} failed, e.g. {failures[:3]}"
