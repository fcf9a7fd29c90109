"""db.time_bounded on SQLite: a statement stops at its time and the connection lives on."""

import pytest


def test_sqlite_statements_stop_at_their_time(tmp_path):
    """The SQLite side of time_bounded, on a statement that would never end."""
    from glancelab.db import QueryTimeout, database, open_database, time_bounded
    database.initialize(open_database(f"sqlite:///{tmp_path}/t.sqlite"))
    try:
        endless = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                   "SELECT count(*) FROM n")
        with pytest.raises(QueryTimeout):
            with time_bounded(0.2):
                database.execute_sql(endless).fetchone()
        # the connection is usable again, without the bound
        assert database.execute_sql("SELECT 41 + 1").fetchone() == (42,)
    finally:
        database.close()
