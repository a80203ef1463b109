-- Runs once, when the PostgreSQL volume is new: one database and one role each for
-- Kratos and Polis, so neither can touch the other's tables.
CREATE ROLE kratos LOGIN PASSWORD 'kratos-local-password';
CREATE DATABASE kratos OWNER kratos;
CREATE ROLE polis LOGIN PASSWORD 'polis-local-password';
CREATE DATABASE polis OWNER polis;
