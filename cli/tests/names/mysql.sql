-- Every identifier case the generator must turn into names that compile (cli/tests/names.rs):
-- keywords, names that cannot be raw identifiers, generated files' names, case clashes,
-- non-ASCII names, a foreign-key column named like its table, several foreign keys to one table,
-- a table referencing itself through a column named like the table.
CREATE TABLE `artist` (`id` integer PRIMARY KEY, `name` text NOT NULL);
CREATE TABLE `type` (`id` integer PRIMARY KEY);
CREATE TABLE `release` (
    `id` integer PRIMARY KEY,
    `artist` integer NOT NULL,
    `type` integer,
    FOREIGN KEY (`artist`) REFERENCES `artist` (id),
    FOREIGN KEY (`type`) REFERENCES `type` (id)
);
CREATE TABLE `pair` (
    `id` integer PRIMARY KEY,
    `first` integer NOT NULL,
    `second` integer NOT NULL,
    FOREIGN KEY (`first`) REFERENCES `artist` (id),
    FOREIGN KEY (`second`) REFERENCES `artist` (id)
);
CREATE TABLE `super` (`id` integer PRIMARY KEY, `self` integer NOT NULL, `crate` text NOT NULL);
CREATE TABLE `self` (`id` integer PRIMARY KEY);
CREATE TABLE `crate` (`id` integer PRIMARY KEY);
CREATE TABLE `prelude` (`id` integer PRIMARY KEY);
CREATE TABLE `lib` (`id` integer PRIMARY KEY);
CREATE TABLE `FooBar` (`id` integer PRIMARY KEY);
CREATE TABLE `foo_bar` (`id` integer PRIMARY KEY, `FooBar` integer NOT NULL, `foo_bar` integer NOT NULL);
CREATE TABLE `café` (`id` integer PRIMARY KEY, `naïve` text NOT NULL);
CREATE TABLE `comment` (
    `id` integer PRIMARY KEY,
    `comment` text NOT NULL,
    `parent` integer,
    FOREIGN KEY (`parent`) REFERENCES `comment` (`id`)
);
