-- Variables (plain or secret) and resources (typed JSON values). Every value is
-- stored encrypted (AES-256-GCM under the master key), secret or not, so there is
-- one code path and a database dump holds no plaintext value.

CREATE TABLE variables (
    workspace    text NOT NULL REFERENCES workspaces,
    path         text NOT NULL,
    ciphertext   bytea NOT NULL,
    is_secret    boolean NOT NULL DEFAULT false,
    description  text NOT NULL DEFAULT '',
    created_by   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, path)
);

CREATE TABLE resources (
    workspace      text NOT NULL REFERENCES workspaces,
    path           text NOT NULL,
    resource_type  text NOT NULL,
    ciphertext     bytea NOT NULL,
    description    text NOT NULL DEFAULT '',
    created_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, path)
);
