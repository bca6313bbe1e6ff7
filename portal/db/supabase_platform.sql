-- What a fresh Supabase project has before its first migration: the ONLY part of Supabase that
-- the local twin fakes (README, "What the local database fakes"). Everything else the portal
-- needs - extensions, roles, grants - is created by supabase/migrations, as on a real project.
--
-- Run once per database by a superuser. @owner@ plays Supabase's `postgres` role: it runs the
-- migrations and owns what they create, and it is not a superuser. Modelled on supabase/postgres
-- (init-scripts/00000000000000-initial-schema.sql, migrations/10000000000000_demote-postgres.sql,
-- 20250605172253_grant_with_admin_to_postgres_16_and_above.sql). Deliberately stricter than the
-- platform: the owner lacks Supabase's BYPASSRLS, and the API roles do not inherit.

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = '@owner@') then
    create role "@owner@" login nosuperuser noinherit;
  end if;
end
$$;
-- Statement timeouts as a project has them: PostgREST's connection (authenticator) 8 s, which
-- covers every impersonated role without one of its own (service_role, portal_member); anon 3 s,
-- authenticated 8 s. The local backend connects as authenticator, so its calls have the same limit.
alter role authenticator set statement_timeout = '8s';
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
-- Supabase's postgres may create roles (and databases); it is how a migration adds one.
alter role "@owner@" createrole createdb;
grant anon, authenticated, service_role to authenticator;
do $$
begin
  -- From 16 on, CREATEROLE alone no longer lets a role grant others; Supabase gives postgres ADMIN.
  if current_setting('server_version_num')::int >= 160000 then
    grant anon, authenticated, service_role to "@owner@" with admin option;
  end if;
  execute format('alter database %I owner to %I', current_database(), '@owner@');
end
$$;

alter schema public owner to "@owner@";
grant usage on schema public to anon, authenticated, service_role;

-- Extension namespacing, and the only extensions a new project has enabled.
create schema if not exists extensions;
-- (The embedded server's build lacks uuid-ossp: there it is left out, which is only stricter.)
do $$
declare
  wanted text;
begin
  foreach wanted in array array['uuid-ossp', 'pgcrypto'] loop
    if exists (select from pg_catalog.pg_available_extensions e where e.name = wanted) then
      execute format('create extension if not exists %I with schema extensions', wanted);
    end if;
  end loop;
end
$$;
grant usage on schema extensions to anon, authenticated, service_role;
grant all on schema extensions to "@owner@";

-- Supabase Auth's helpers, reading the claims PostgREST sets per request (Supabase's definitions).
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role, "@owner@";

create or replace function auth.uid() returns uuid
language sql stable set search_path = '' as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable set search_path = '' as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable set search_path = '' as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

revoke all on function auth.uid(), auth.role(), auth.jwt() from public;
grant execute on function auth.uid(), auth.role(), auth.jwt()
  to anon, authenticated, service_role, "@owner@";

-- The platform's default privileges: whatever the owner creates in public is granted to every
-- API role, so a migration must revoke what it does not mean to give.
alter default privileges for role "@owner@" in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role "@owner@" in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges for role "@owner@" in schema public
  grant all on functions to anon, authenticated, service_role;
