-- Every PostgreSQL column type the type map knows (cli/tests/type_map.rs), plus what it must
-- report.
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('happy', 'sad');
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
    positive positive_int NOT NULL,
    feeling mood NOT NULL,
    maybe_span interval
);
-- No equality operator, so an entity could not filter on them.
CREATE TABLE geometry (
    id serial PRIMARY KEY,
    spot point NOT NULL,
    markup xml NOT NULL
);
CREATE TABLE keyless (
    a integer,
    b text
);
