-- An identity's own membership requests (GET /me/membership-requests), in id order.
CREATE INDEX membership_requests_identity_idx ON membership_requests (identity_id, id);
