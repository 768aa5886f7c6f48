-- The notes board's tables (handlers/notes/). Applied by `millrace migrate handlers/notes/migrations`,
-- once, in one transaction with its record in millrace_migrations.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9_]{3,32}$'),
    password_hash text NOT NULL, -- crypto_pwhash_str: argon2id, its parameters and salt inside
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notes (
    id         bigserial PRIMARY KEY,
    author     bigint NOT NULL REFERENCES users (id),
    title      text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 20000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notes_author ON notes (author);
