-- A counter every change to the role catalog bumps in its own transaction. Reads fetch
-- it with the rows they need (one more column, no more round trips) and reuse an
-- in-memory copy of the catalog while it is unchanged, so every replica sees a role
-- change on its next request without reading the whole catalog each time.
CREATE TABLE role_catalog_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO role_catalog_version (id, version) VALUES (1, 1);
