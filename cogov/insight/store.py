"""The analytics store: the operational database's cases, places and units, copied into DuckDB.

Every analysis of cogov.insight (hotspots, recurrence, warnings, evaluation, the bulletin) is SQL over the
tables below, run by DuckDB — never a Python loop over cases — so that the same code answers for a demo city
and for ten million cases (bench/insight.py).

Times are the city's local wall-clock time (Asia/Shanghai has no daylight saving), as naive TIMESTAMPs: the
hour of week, the day and the month of a case are read straight off them.

Tables (``create_schema`` makes them empty; ``load`` fills them from the operational database):

``cases`` — one row per case, merged and held (moderation) ones included; analyses pick their own filter
    (most use ``WHERE merged_into_id IS NULL AND moderation = 'ok'``).
    ``h3_9`` / ``h3_10`` hold the case's H3 cell key at resolution 9 / 10 (``with_h3_keys``), computed once
    here so that the spatial analyses read it instead of computing it on every call.
``units`` — the city's geo units (district, subdistrict, community, station, area, street, courtyard, building).
``service_units`` — the professional units (专业单位).
``events`` — the case events needed for evaluation: one row per event (case_id, seq, action, at, role,
    to_state, unit_id = the professional unit acting or addressed, when the event names one).
``follows`` — 关注（我也遇到了）: one row per person or device that followed a case on the citizen page instead
    of reporting it again (case_id, at) — a duplicate report the citizen confirmed; with ``cases.merged_into_id``
    (a duplicate the station merged) the city's confirmed duplicates.

How a store is filled: ``load`` streams each table out of the operational database as CSV — on PostgreSQL by
``COPY (SELECT …) TO STDOUT`` (the server writes the CSV), on SQLite by a SELECT whose every row is already one
CSV line (SQLite concatenates; Python only joins lines) — into a temporary file that DuckDB reads with
``read_csv`` in one INSERT per table, converting times on the way. Row-by-row inserts into DuckDB
(``executemany``) run at a few hundred rows a second and are not used; docs/benchmarks.md has the figures.
``export_parquet`` writes the tables as Parquet files and ``open_parquet`` reads such an export back, so the
same analyses run on a copy taken elsewhere.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: DuckDB DDL of the store. Column order is the load order.
SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id BIGINT PRIMARY KEY,
    city_id INTEGER NOT NULL,
    number VARCHAR NOT NULL,
    category_id INTEGER NOT NULL,
    category_code VARCHAR NOT NULL,
    category_name VARCHAR NOT NULL,
    category_kind VARCHAR NOT NULL,      -- 'component' | 'matter'
    major_code VARCHAR NOT NULL,         -- '' when none
    urgency VARCHAR NOT NULL,            -- 'normal' | 'urgent' | 'emergency'
    source VARCHAR NOT NULL,             -- 'citizen' | 'head' | 'merchant_group' | 'inspector' | 'hotline' | ...
    lon DOUBLE NOT NULL,
    lat DOUBLE NOT NULL,
    h3_9 BIGINT,                         -- H3 cell keys at resolution 9 and 10 (spatial.h3_key_sql), filled
    h3_10 BIGINT,                        -- once at load; NULL when not filled (spatial then computes them)
    district_id INTEGER,                 -- geo units (units.id); NULL outside the city's map
    subdistrict_id INTEGER,
    community_id INTEGER,
    station_id INTEGER,
    handler_unit_id INTEGER,             -- service_units.id of the unit now holding the case (NULL when none)
    state VARCHAR NOT NULL,              -- cogov.cases.workflow.STATES
    level VARCHAR NOT NULL,              -- 'community' | 'subdistrict' | 'district'
    max_level VARCHAR NOT NULL,
    rework_count INTEGER NOT NULL,
    return_count INTEGER NOT NULL,
    extension_count INTEGER NOT NULL,
    rating VARCHAR NOT NULL,             -- '' | 'satisfied' | 'basically_satisfied' | 'dissatisfied'
    merged_into_id BIGINT,
    moderation VARCHAR NOT NULL,         -- 'ok' | 'held' | ...
    reported_at TIMESTAMP NOT NULL,      -- local time, naive
    accepted_at TIMESTAMP,
    dispatched_at TIMESTAMP,
    acknowledged_at TIMESTAMP,
    handled_at TIMESTAMP,
    closed_at TIMESTAMP,
    escalated_at TIMESTAMP,
    first_response_due TIMESTAMP,
    handling_due TIMESTAMP,
    unit_path VARCHAR NOT NULL           -- the deepest geo unit's path at intake ('370202/370202001/…/')
);
CREATE TABLE IF NOT EXISTS units (
    id INTEGER PRIMARY KEY,
    city_id INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    parent_id INTEGER,
    path VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS service_units (
    id INTEGER PRIMARY KEY,
    city_id INTEGER NOT NULL,
    code VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    duty_type VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS follows (
    case_id BIGINT NOT NULL,
    "at" TIMESTAMP NOT NULL              -- local time, naive (when the person followed)
);
CREATE TABLE IF NOT EXISTS events (
    case_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    action VARCHAR NOT NULL,             -- cogov.cases.workflow actions: report, accept, dispatch, acknowledge, ...
    "at" TIMESTAMP NOT NULL,             -- local time, naive; AT is a keyword in DuckDB: write e.at or "at"
    role VARCHAR NOT NULL,
    to_state VARCHAR NOT NULL,
    unit_id INTEGER                      -- the professional unit dispatched to / acting, when there is one
);
"""

TABLES = ("cases", "units", "service_units", "events", "follows")
#: Tables an export written before they existed may lack: ``open_parquet`` gives them empty.
OPTIONAL_TABLES = ("follows",)

#: Resolutions whose H3 cell key each case carries (``cases.h3_<res>``), computed once when the store is filled.
H3_RESOLUTIONS = (9, 10)


def with_h3_keys(con, src: str) -> str:
    """SQL: the rows of the query ``src`` (which has ``lat`` and ``lon``; any ``h3_<res>`` columns it has are
    replaced) with ``h3_9`` and ``h3_10`` — the face-IJK keys of ``spatial.h3_key_sql``, the same ones
    ``spatial.located`` would compute per call. Reads ``src`` once here for its bounding box."""
    from cogov.insight import spatial

    box = con.execute(f"SELECT min(lat), max(lat), min(lon), max(lon) FROM ({src})").fetchone()
    faces = [0] if box[0] is None else spatial._candidate_faces(*box)
    names = [d[0] for d in con.execute(f"SELECT * FROM ({src}) LIMIT 0").description]
    old = [f"h3_{r}" for r in H3_RESOLUTIONS if f"h3_{r}" in names]
    s = f"SELECT * EXCLUDE ({', '.join(old)}) FROM ({src})" if old else src
    for res in H3_RESOLUTIONS:
        s = f"SELECT * EXCLUDE (_key), _key AS h3_{res} FROM ({spatial.h3_key_sql(s, res, faces)})"
    keep = names + [f"h3_{r}" for r in H3_RESOLUTIONS if f"h3_{r}" not in names]  # src's column order
    return f"SELECT {', '.join(_sql_name(n) for n in keep)} FROM ({s})"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_schema(con) -> None:
    """Create the store's empty tables on a DuckDB connection (idempotent)."""
    con.execute(SCHEMA)


#: Events acted by, or addressed to, the unit that holds the case; their unit is the last dispatch's (the
#: workflow clears the holder on return, resume and reopen, and only a new dispatch gives the case a unit).
UNIT_ACTIONS = ("acknowledge", "return", "handle", "rework", "request_extension", "approve_extension",
                "refuse_extension")
#: Rows fetched from SQLite at a time (memory stays flat however large the city).
BATCH = 20_000


@dataclass(frozen=True)
class _Read:
    """One table read out of the operational database: (name, DuckDB type, SQL expression) per column."""

    name: str
    table: str
    columns: tuple[tuple[str, str, str], ...]
    where: str
    order: str


def _reads(city_id: int, vendor: str) -> list[_Read]:
    city = int(city_id)
    times = ("reported_at", "accepted_at", "dispatched_at", "acknowledged_at", "handled_at", "closed_at",
             "escalated_at", "first_response_due", "handling_due")

    def col(name, kind="VARCHAR", expr=None):
        return (name, kind, expr or name)

    unit = ("(data->>'unit')" if vendor == "postgresql" else "json_extract(data, '$.unit')")
    return [
        _Read("categories", "cases_category",
              (col("id", "INTEGER"), col("code"), col("name"), col("kind"), col("major_code")),
              f"city_id = {city}", "id"),
        _Read("units", "geo_unit",
              (col("id", "INTEGER"), col("city_id", "INTEGER"), col("kind"), col("code"), col("name"),
               col("parent_id", "INTEGER"), col("path")),
              f"city_id = {city}", "id"),
        _Read("service_units", "people_serviceunit",
              (col("id", "INTEGER"), col("city_id", "INTEGER"), col("code"), col("name"), col("duty_type")),
              f"city_id = {city}", "id"),
        _Read("cases", "cases_case",
              (col("id", "BIGINT"), col("city_id", "INTEGER"), col("number"), col("category_id", "INTEGER"),
               col("urgency"), col("source"), col("lon", "DOUBLE"), col("lat", "DOUBLE"),
               col("district_id", "INTEGER"), col("subdistrict_id", "INTEGER"),
               col("community_id", "INTEGER"), col("station_id", "INTEGER"), col("handler_unit_id", "INTEGER"), col("state"), col("level"),
               col("max_level"), col("rework_count", "INTEGER"), col("return_count", "INTEGER"),
               col("extension_count", "INTEGER"), col("rating"), col("merged_into_id", "BIGINT"),
               col("moderation"), col("unit_path"))
              + tuple(col(t, "TIMESTAMP") for t in times),
              f"city_id = {city}", "id"),
        _Read("events", "cases_caseevent",
              (col("case_id", "BIGINT"), col("seq", "INTEGER"), col("action"), col("at", "TIMESTAMP"),
               col("role"), col("to_state"),
               col("dispatch_unit", "INTEGER", f"CASE WHEN action = 'dispatch' THEN {unit} END")),
              f"city_id = {city}", ""),  # no ORDER BY: DuckDB sorts what it needs, the database need not
        _Read("follows", "cases_casefollow", (col("case_id", "BIGINT"), col("at", "TIMESTAMP", "created_at")),
              f"city_id = {city}", ""),
    ]


def _order(read: _Read) -> str:
    return f" ORDER BY {read.order}" if read.order else ""


def _copy_postgresql(cursor, read: _Read, f) -> None:
    """The server writes the CSV (NULL → empty field, empty text → ""); times as naive UTC."""
    exprs = [f"({e} AT TIME ZONE 'UTC')" if kind == "TIMESTAMP" else e for _, kind, e in read.columns]
    sql = (f"COPY (SELECT {', '.join(exprs)} FROM {read.table} WHERE {read.where}{_order(read)}) "
           "TO STDOUT (FORMAT csv)")
    raw = getattr(cursor, "cursor", cursor)  # Django's wrapper → the psycopg cursor
    with raw.copy(sql) as copy:
        for block in copy:
            f.write(block)


def _copy_sqlite(cursor, read: _Read, f) -> None:
    """SQLite writes each row as one CSV line (NULL → empty field, empty text → ""); times as stored (naive
    UTC)."""
    parts = []
    for _, kind, e in read.columns:
        if kind == "VARCHAR":  # quoted only when it must be (empty, or a quote, comma or line break inside)
            parts.append(f"""CASE WHEN {e} IS NULL THEN '' WHEN {e} = '' OR {e} GLOB '*[",\n\r]*' """
                         f"""THEN '"' || replace({e}, '"', '""') || '"' ELSE {e} END""")
        else:
            parts.append(f"coalesce({e}, '')")
    line = " || ',' || ".join(parts)
    cursor.execute(f"SELECT {line} FROM {read.table} WHERE {read.where}{_order(read)}")
    while rows := cursor.fetchmany(BATCH):
        f.write("\n".join([r[0] for r in rows]).encode())
        f.write(b"\n")


def _sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _csv_source(path: Path, read: _Read) -> str:
    """DuckDB's read of one dumped table (no sniffing: the columns and their types are known)."""
    cols = ", ".join(f"{_sql_str(n)}: {_sql_str(kind)}" for n, kind, _ in read.columns)
    return (f"read_csv({_sql_str(str(path))}, header = false, auto_detect = false, delim = ',', "
            f"quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = false, columns = {{{cols}}})")


def _offset_seconds(zone: dt.tzinfo) -> int | None:
    """The zone's UTC offset when it is the same all through 1992–2100 (Asia/Shanghai: 28800), else None."""
    offsets = {zone.utcoffset(dt.datetime(y, m, 1)) for y in range(1992, 2101) for m in (1, 7)}
    if len(offsets) != 1:
        return None
    return int(offsets.pop().total_seconds())  # type: ignore[union-attr]


def _local(expr: str, zone_name: str, offset: int | None) -> str:
    """A naive UTC TIMESTAMP as the city's naive local time: a fixed shift when the zone has one (about
    fourteen times cheaper than ICU's per-value zone rules), else through the zone's rules."""
    if offset is not None:
        return f"({expr} + INTERVAL {offset} SECOND)"
    return f"timezone({_sql_str(zone_name)}, timezone('UTC', {expr}))"


def load(con, *, city_id: int) -> dict[str, int]:
    """Copy the city's cases, events, geo units and professional units from the operational database (Django's
    connection, SQLite or PostgreSQL) into the store's tables on ``con``, replacing what they held.

    Times become the city's naive local time; ``events.unit_id`` is the unit a dispatch names, and for the
    unit's own steps (签收, 退回, 处置, 延期) and a rework (返工) the unit of the case's last dispatch. The read is one
    snapshot of the database when no transaction is open (PostgreSQL: REPEATABLE READ; SQLite: one read
    transaction). Returns the number of rows of each table.
    """
    from django.db import connection

    from cogov import clock

    create_schema(con)
    vendor = connection.vendor
    zone_name = getattr(clock.LOCAL_TZ, "key", "Asia/Shanghai")
    offset = _offset_seconds(clock.LOCAL_TZ)

    def local(expr: str) -> str:
        return _local(expr, zone_name, offset)

    reads = _reads(city_id, vendor)
    with tempfile.TemporaryDirectory(prefix="cogov-store-") as tmp:
        files = {}
        with _snapshot(connection) as cursor:
            for read in reads:
                path = Path(tmp) / f"{read.name}.csv"
                with open(path, "wb") as f:
                    (_copy_postgresql if vendor == "postgresql" else _copy_sqlite)(cursor, read, f)
                files[read.name] = path
        src = {r.name: _csv_source(files[r.name], r) for r in reads}
        cases_cols = [c[0] for c in next(r for r in reads if r.name == "cases").columns]
        times = [c for c in cases_cols if c.endswith("_at") or c.endswith("_due")]
        select_case = {c: f"r.{c}" for c in cases_cols}
        select_case.update({f"h3_{res}": "NULL::BIGINT" for res in H3_RESOLUTIONS})
        select_case.update({t: local(f"r.{t}") for t in times})
        select_case["rating"] = "coalesce(r.rating, '')"
        select_case["unit_path"] = "coalesce(r.unit_path, '')"
        select_case.update({"category_code": "c.code", "category_name": "c.name", "category_kind": "c.kind",
                            "major_code": "coalesce(c.major_code, '')"})
        order = [row[1] for row in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_name = 'cases' "
            "AND table_schema = 'main' ORDER BY ordinal_position").fetchall()]
        unit_actions = ", ".join(_sql_str(a) for a in UNIT_ACTIONS)
        con.execute("BEGIN TRANSACTION")
        try:
            for table in TABLES:
                con.execute(f"DELETE FROM {table}")
            con.execute("CREATE OR REPLACE TEMP TABLE _store_categories AS "
                        f"SELECT * FROM {src['categories']}")
            con.execute(f"INSERT INTO units SELECT id, city_id, kind, code, name, parent_id, path "
                        f"FROM {src['units']}")
            con.execute(f"INSERT INTO service_units SELECT id, city_id, code, name, duty_type "
                        f"FROM {src['service_units']}")
            exprs = ", ".join(f'{select_case[c]} AS "{c}"' for c in order)
            rows = f"SELECT {exprs} FROM {src['cases']} r JOIN _store_categories c ON c.id = r.category_id"
            con.execute(f"INSERT INTO cases BY NAME {with_h3_keys(con, rows)}")
            con.execute(f"""
                INSERT INTO events
                SELECT case_id, seq, action, {local('"at"')}, role, to_state,
                       CASE WHEN action = 'dispatch' THEN dispatch_unit
                            WHEN action IN ({unit_actions}) THEN last_value(dispatch_unit IGNORE NULLS) OVER (
                                PARTITION BY case_id ORDER BY seq
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                       END
                FROM {src['events']} WHERE case_id IN (SELECT id FROM cases)""")
            con.execute(f"""INSERT INTO follows SELECT case_id, {local('"at"')} FROM {src['follows']}
                            WHERE case_id IN (SELECT id FROM cases)""")
            con.execute("DROP TABLE _store_categories")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


class _snapshot:
    """A cursor reading one snapshot of the operational database (inside the caller's transaction if one is
    open; else a read-only REPEATABLE READ transaction on PostgreSQL, a deferred read transaction on SQLite —
    never the write lock Django's IMMEDIATE transactions would take)."""

    def __init__(self, connection):
        self.connection = connection
        self.began = False

    def __enter__(self):
        conn = self.connection
        conn.ensure_connection()
        self.cursor = conn.cursor()
        if not conn.in_atomic_block and conn.get_autocommit():
            if conn.vendor == "postgresql":
                self.cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            else:
                self.cursor.execute("BEGIN DEFERRED")
            self.began = True
        return self.cursor

    def __exit__(self, *exc):
        try:
            if self.began:
                self.cursor.execute("COMMIT")
        finally:
            self.cursor.close()
        return False


def open_store(*, city_id: int, path: str | None = None):
    """A DuckDB connection (in memory, or the file at ``path``) holding the store of the city, loaded now."""
    import duckdb

    con = duckdb.connect(path or ":memory:")
    try:
        load(con, city_id=city_id)
    except BaseException:
        con.close()
        raise
    return con


#: The order an export writes rows in: cases by id, events by (case_id, seq). Ids grow with report time, so a
#: month's cases — and their events — sit in a few row groups whose zone maps let DuckDB skip the rest.
EXPORT_ORDER = {"cases": "id", "events": "case_id, seq", "follows": "case_id, \"at\""}


def _export_query(table: str) -> str:
    order = EXPORT_ORDER.get(table)
    return f"SELECT * FROM {table}" + (f" ORDER BY {order}" if order else "")


def export_parquet(con, out_dir) -> list[Path]:
    """Write every table of the store as ``<out_dir>/<table>.parquet`` (zstd), cases and events in
    ``EXPORT_ORDER``; returns the files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for table in TABLES:
        path = out / f"{table}.parquet"
        con.execute(f"COPY ({_export_query(table)}) TO {_sql_str(str(path))} "
                    "(FORMAT parquet, COMPRESSION zstd)")
        files.append(path)
    return files


def open_parquet(directory, *, materialize: bool = False):
    """A DuckDB connection whose store tables are an export's Parquet files: views reading the files (no
    load time), or with ``materialize`` tables of the schema filled from them (faster repeated queries)."""
    import duckdb

    folder = Path(directory)
    missing = [t for t in TABLES if not (folder / f"{t}.parquet").is_file()]
    required = [t for t in missing if t not in OPTIONAL_TABLES]
    if required:
        raise FileNotFoundError(f"导出目录 {folder} 缺少文件：{', '.join(t + '.parquet' for t in required)}")
    con = duckdb.connect()
    create_schema(con)  # an older export without an optional table: that table stays empty
    for table in TABLES:
        if table in missing:
            continue
        source = f"read_parquet({_sql_str(str(folder / (table + '.parquet')))})"
        if materialize:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source}")  # an older export: h3_* NULL
        else:
            con.execute(f"DROP TABLE {table}")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {source}")
    return con
