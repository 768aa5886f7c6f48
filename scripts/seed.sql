-- SPDX-License-Identifier: BSD-2-Clause
-- seed.sql: the TechEmpower data set for the local stack. scripts/stack.py runs it on every
-- `up` of the primary, as role millrace in database millrace (so millrace owns the tables),
-- with ON_ERROR_STOP. It is idempotent: it creates what is missing and never duplicates.
-- World rows that exist are left alone (/updates changes their randomnumber on purpose);
-- Fortune rows 1..12 are put back to their exact text if someone edited them. Fortune 0
-- ("Additional fortune added at request time.") is not stored: the handler adds it per request.
\set ON_ERROR_STOP on
SET client_min_messages = warning;  -- no "already exists, skipping" notices on every up

BEGIN;

CREATE TABLE IF NOT EXISTS world (
    id           integer PRIMARY KEY,
    randomnumber integer NOT NULL
);

CREATE TABLE IF NOT EXISTS fortune (
    id      integer PRIMARY KEY,
    message text NOT NULL
);

-- 10,000 rows, randomnumber uniform in 1..10000. The anti-join makes a warm run read-only;
-- ON CONFLICT covers two seeds racing.
INSERT INTO world (id, randomnumber)
SELECT g, 1 + floor(random() * 10000)::integer
FROM generate_series(1, 10000) AS g
WHERE NOT EXISTS (SELECT 1 FROM world w WHERE w.id = g)
ON CONFLICT (id) DO NOTHING;

-- The 12 standard rows, byte for byte (row 11 must be escaped by /fortunes; row 12 is UTF-8).
INSERT INTO fortune (id, message) VALUES
    (1, 'fortune: No such file or directory'),
    (2, 'A computer scientist is someone who fixes things that aren''t broken.'),
    (3, 'After enough decimal places, nobody gives a damn.'),
    (4, 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1'),
    (5, 'A computer program does what you tell it to do, not what you want it to do.'),
    (6, 'Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen'),
    (7, 'Any program that runs right is obsolete.'),
    (8, 'A list is only as strong as its weakest link. — Donald Knuth'),
    (9, 'Feature: A bug with seniority.'),
    (10, 'Computers make very fast, very accurate mistakes.'),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, 'フレームワークのベンチマーク')
ON CONFLICT (id) DO UPDATE SET message = EXCLUDED.message
    WHERE fortune.message IS DISTINCT FROM EXCLUDED.message;

-- The test build's transaction routes (handlers/testonly.c) and their tests
-- (tests/integration/test_data_transactions.py), which add and remove rows of their own tags.
CREATE TABLE IF NOT EXISTS txn_test (
    id     bigserial PRIMARY KEY,
    tag    text NOT NULL,
    n      integer NOT NULL DEFAULT 0,
    parent bigint REFERENCES txn_test (id) ON DELETE CASCADE
);

-- Read-your-writes, to see it work: POST /rw/{id} writes a row here, GET /rw/{id} reads it
-- from a replica that has replayed the write (or the primary).
CREATE TABLE IF NOT EXISTS rw_demo (
    id    integer PRIMARY KEY,
    value bigint NOT NULL
);

COMMIT;

-- Fresh statistics so the first queries get index scans; a few milliseconds on 10k rows.
ANALYZE world, fortune;
