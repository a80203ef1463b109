-- Which traits a profile's search_text was built from. Member search matches only
-- snapshots made from the traits the deployment shows (POLIS_IDENTITY_TRAITS), so a
-- trait that is hidden, or was hidden since, is never searchable.
ALTER TABLE identity_profiles ADD COLUMN search_fields TEXT NOT NULL DEFAULT '';
