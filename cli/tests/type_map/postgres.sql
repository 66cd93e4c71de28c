-- Every PostgreSQL column type the type map knows (cli/tests/type_map.rs), plus what it must
-- report.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('happy', 'sad', 'n/a');
CREATE TYPE pair AS (a integer, b integer);
CREATE TABLE typed (
    id serial PRIMARY KEY,
    small smallint NOT NULL,
    big bigint NOT NULL,
    ratio double precision NOT NULL,
    real_ratio real NOT NULL,
    price numeric(10, 2) NOT NULL,
    cash money NOT NULL,
    label varchar(40) NOT NULL,
    code char(3) NOT NULL,
    body text NOT NULL,
    raw bytea NOT NULL,
    flag boolean NOT NULL,
    on_date date NOT NULL,
    at_time time NOT NULL,
    at_timestamp timestamp NOT NULL,
    at_timestamptz timestamptz NOT NULL,
    at_timetz timetz NOT NULL,
    span interval NOT NULL,
    one_bit bit(1) NOT NULL,
    bits bit(4) NOT NULL,
    var_bits varbit(8) NOT NULL,
    search tsvector NOT NULL,
    mac macaddr NOT NULL,
    mac8 macaddr8 NOT NULL,
    address inet NOT NULL,
    network cidr NOT NULL,
    ident uuid NOT NULL,
    doc json NOT NULL,
    docb jsonb NOT NULL,
    numbers integer[] NOT NULL,
    words text[] NOT NULL,
    bigs bigint[] NOT NULL,
    flags boolean[] NOT NULL,
    idents uuid[] NOT NULL,
    days date[] NOT NULL,
    prices numeric[] NOT NULL,
    name citext NOT NULL,
    attrs hstore NOT NULL,
    seats int4range NOT NULL,
    positive positive_int NOT NULL,
    feeling mood NOT NULL,
    maybe_span interval
);
-- point and xml have no equality operator, so an entity could not filter on them; a composite
-- type and an array of a cast type have no mapping.
CREATE TABLE reported (
    id serial PRIMARY KEY,
    spot point,
    markup xml,
    both_ends pair,
    spans interval[]
);
CREATE TABLE keyless (
    a integer,
    b text
);
