-- A fresh Supabase project enables only its default extensions (uuid-ossp, pgcrypto, ...).
-- Every other extension the schema uses is created here, before the first migration that
-- needs it, so that `supabase db push` into a new project succeeds as it is.
--
-- Ordered before 20261126000100 on purpose: 20261126000500 needs it, and a project that
-- already holds later migrations (only if btree_gist was enabled by hand) takes it with
-- `supabase db push --include-all`; `if not exists` makes it a no-op there.

-- GiST operator classes for uuid equality: the exclusion constraints that stop a consultant
-- or a client from being double-booked (appointments_consultant_free, appointments_client_free).
create extension if not exists btree_gist with schema extensions;
