-- Every MySQL/MariaDB column type the type map knows (cli/tests/type_map.rs), plus what it must
-- report.
CREATE TABLE typed (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tiny TINYINT NOT NULL,
    tiny_u TINYINT UNSIGNED NOT NULL,
    small SMALLINT NOT NULL,
    medium MEDIUMINT NOT NULL,
    medium_u MEDIUMINT UNSIGNED NOT NULL,
    big BIGINT NOT NULL,
    big_u BIGINT UNSIGNED NOT NULL,
    flag BOOL NOT NULL,
    ratio DOUBLE NOT NULL,
    price DECIMAL(10, 2) NOT NULL,
    label VARCHAR(40) NOT NULL,
    code CHAR(3) NOT NULL,
    body_tiny TINYTEXT NOT NULL,
    body TEXT NOT NULL,
    body_medium MEDIUMTEXT NOT NULL,
    body_long LONGTEXT NOT NULL,
    raw_tiny TINYBLOB NOT NULL,
    raw BLOB NOT NULL,
    raw_medium MEDIUMBLOB NOT NULL,
    raw_long LONGBLOB NOT NULL,
    raw_fixed BINARY(4) NOT NULL,
    raw_var VARBINARY(8) NOT NULL,
    on_date DATE NOT NULL,
    at_time TIME NOT NULL,
    at_datetime DATETIME NOT NULL,
    at_timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    born YEAR NOT NULL,
    one_bit BIT(1) NOT NULL,
    bits BIT(12) NOT NULL,
    mood ENUM('happy', 'sad', 'n/a') NOT NULL,
    tags SET('red', 'green', 'blue') NOT NULL,
    doc JSON NOT NULL,
    ident UUID NOT NULL,
    address INET6 NOT NULL,
    maybe_year YEAR NULL
);
-- Spatial types have no Rust type in SeaORM.
CREATE TABLE places (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    spot POINT NULL
);
CREATE TABLE keyless (
    a INT,
    b TEXT
);
