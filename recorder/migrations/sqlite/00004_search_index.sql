-- PostgreSQL's 00004 adds a trigram index for search. SQLite's equivalent,
-- an FTS5 trigram table, is not available to every build: the C engine
-- (mattn/go-sqlite3) compiles FTS5 only with the sqlite_fts5 build tag. So
-- on SQLite search still reads the room it searches (LOWER(text) LIKE);
-- this file keeps the two folders numbered alike.
-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
