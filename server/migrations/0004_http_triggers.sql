-- Custom HTTP routes: a method and a path of the user's choosing, served at /api/r/...,
-- each running one script.

CREATE TABLE http_triggers (
    workspace             text NOT NULL REFERENCES workspaces,
    path                  text NOT NULL,
    route_path            text NOT NULL,
    http_method           text NOT NULL CHECK (http_method IN ('get', 'post', 'put', 'patch', 'delete')),
    script_path           text NOT NULL,
    authentication        text NOT NULL CHECK (authentication IN ('token', 'none', 'signature')),
    is_async              boolean NOT NULL DEFAULT false,
    signature_secret      text,
    signature_header      text NOT NULL DEFAULT 'X-Signature-256',
    signature_algorithm   text NOT NULL DEFAULT 'sha256'
                          CHECK (signature_algorithm IN ('sha256', 'sha1', 'sha512')),
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, path),
    -- one script per method and route, across workspaces: /api/r/ has no workspace in it
    UNIQUE (http_method, route_path)
);
