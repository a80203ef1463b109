-- The ES256 keys that sign org-claims tokens (POST /me/token), shared by every replica.
-- A key signs from activates_at until retired_at. A rotation publishes the next key ahead
-- of its activation (so verifiers caching the JWKS already have it when it signs); a
-- retired key stays published until every token it signed has expired, and its private
-- half is erased once it stops signing.

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL CHECK (algorithm = 'ES256'),
    -- The public key as a JWK (kty, crv, x, y): what /.well-known/jwks.json publishes.
    public_jwk   JSONB NOT NULL,
    -- The PKCS#8 private key, `plain:` or `aes256gcm:` (under POLIS_SIGNING_KEY_SECRET) and
    -- base64; NULL once the key no longer signs.
    private_key  TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    activates_at TIMESTAMPTZ NOT NULL,
    -- When it stops signing; NULL for the newest key, which signs until the next rotation.
    retired_at   TIMESTAMPTZ
);
-- At most one newest key, however many replicas create or rotate at once.
CREATE UNIQUE INDEX signing_keys_one_newest ON signing_keys ((retired_at IS NULL))
    WHERE retired_at IS NULL;
