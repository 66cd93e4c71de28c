-- Every SQLite column type the type map knows (cli/tests/type_map.rs), as Django and hand-written
-- schemas declare them, plus what it must report.
CREATE TABLE typed (
    id INTEGER PRIMARY KEY,
    at_datetime DATETIME NOT NULL,
    at_timestamp TIMESTAMP NOT NULL,
    on_date DATE NOT NULL,
    at_time TIME NOT NULL,
    flag_bool BOOL NOT NULL,
    flag_boolean BOOLEAN NOT NULL,
    doc JSON NOT NULL,
    price NUMERIC(10, 2) NOT NULL,
    whole NUMERIC NOT NULL,
    amount DECIMAL NOT NULL,
    ident UUID NOT NULL,
    small SMALLINT NOT NULL,
    big BIGINT NOT NULL,
    ratio REAL NOT NULL,
    label VARCHAR(40) NOT NULL,
    body TEXT NOT NULL,
    raw BLOB NOT NULL,
    maybe_datetime DATETIME
);
-- A column without a type holds whatever is put in it: no Rust type can read it back.
CREATE TABLE untyped (
    id INTEGER PRIMARY KEY,
    anything
);
CREATE TABLE keyless (
    a INTEGER,
    b TEXT
);
-- An untyped primary key: the table cannot get an entity, and the run still reports the column.
CREATE TABLE odd_key (
    id PRIMARY KEY,
    label TEXT
);
