-- The ES256 keys that sign org-claims tokens (POST /me/token), shared by every replica.
-- One key is current (retired_at NULL) and signs; a retired key is still published in the
-- JWKS until every token it signed has expired, and its private half is erased.

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL CHECK (algorithm = 'ES256'),
    -- The public key as a JWK (kty, crv, x, y): what /.well-known/jwks.json publishes.
    public_jwk  JSONB NOT NULL,
    -- The PKCS#8 private key, `plain:` or `aes256gcm:` (under POLIS_SIGNING_KEY_SECRET) and
    -- base64; NULL once the key is retired.
    private_key TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ,
    CHECK ((retired_at IS NULL) = (private_key IS NOT NULL))
);
-- At most one current key, however many replicas create or rotate at once.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((retired_at IS NULL))
    WHERE retired_at IS NULL;
