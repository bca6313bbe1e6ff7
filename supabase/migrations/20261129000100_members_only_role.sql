-- "Authenticated" is not "member".
--
-- A hosted Supabase project runs Supabase Auth: anyone holding the publishable key can sign up
-- and receive a valid JWT with role `authenticated` and a `sub` the portal has never seen.
-- Until now every member table, policy and function was granted to `authenticated`, so such a
-- token could search, read consultant profiles and write screening-log rows.
--
-- The rule from here on: a member is a request made as the role `portal_member`. PostgREST
-- switches to the role named in the token's `role` claim, and only the portal's server mints
-- tokens with `role: portal_member` (after its own sign-in); Supabase Auth never does. Every
-- member privilege and policy moves from `authenticated` to `portal_member`; `authenticated`
-- and `anon` keep nothing in the portal's schemas (tests/test_members_only.py holds this).
--
-- portal_member inherits `authenticated`, so it has what the platform gives signed-in users
-- (usage on the auth schema, auth.uid()) without the portal granting anything on Supabase's
-- own schemas. The inheritance runs one way: an `authenticated` token gets nothing of a member's.

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'portal_member') then
    create role portal_member nologin inherit;
  end if;
end
$$;
grant authenticated to portal_member;
grant portal_member to authenticator;   -- PostgREST (and the local backend) may switch to it

grant usage on schema public to portal_member;

-- Move every privilege and policy the earlier migrations gave `authenticated`.
do $$
declare
  item record;
begin
  for item in
    select p.schemaname, p.tablename, p.policyname,
           (select string_agg(quote_ident(case r when 'authenticated' then 'portal_member' else r::text end), ', ')
              from unnest(p.roles) r) as roles
    from pg_catalog.pg_policies p
    where p.schemaname in ('public', 'private') and 'authenticated' = any (p.roles)
  loop
    execute format('alter policy %I on %I.%I to %s', item.policyname, item.schemaname, item.tablename, item.roles);
  end loop;

  for item in
    select c.oid::regclass as relation, c.relkind, a.privilege_type
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join lateral aclexplode(c.relacl) a
    where n.nspname in ('public', 'private') and a.grantee = 'authenticated'::regrole
  loop
    execute format('grant %s on %s %s to portal_member', item.privilege_type,
                   case item.relkind when 'S' then 'sequence' else 'table' end, item.relation);
    execute format('revoke %s on %s %s from authenticated', item.privilege_type,
                   case item.relkind when 'S' then 'sequence' else 'table' end, item.relation);
  end loop;

  for item in
    select c.oid::regclass as relation, quote_ident(att.attname) as column_name, a.privilege_type
    from pg_catalog.pg_attribute att
    join pg_catalog.pg_class c on c.oid = att.attrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join lateral aclexplode(att.attacl) a
    where n.nspname in ('public', 'private') and a.grantee = 'authenticated'::regrole
  loop
    execute format('grant %s (%s) on table %s to portal_member', item.privilege_type, item.column_name, item.relation);
    execute format('revoke %s (%s) on table %s from authenticated', item.privilege_type, item.column_name, item.relation);
  end loop;

  for item in
    select p.oid::regprocedure as routine
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    cross join lateral aclexplode(p.proacl) a
    where n.nspname in ('public', 'private') and a.grantee = 'authenticated'::regrole
      and a.privilege_type = 'EXECUTE'
  loop
    execute format('grant execute on function %s to portal_member', item.routine);
    execute format('revoke execute on function %s from authenticated', item.routine);
  end loop;
end
$$;

-- Four helpers in private (two trigger functions, refuse_changes, within_window) kept Postgres's
-- default EXECUTE for PUBLIC. Nobody outside can reach the private schema, but nothing of the
-- portal's is to be executable by anon or authenticated, reachable or not (and triggers need no
-- EXECUTE to fire; definer functions call them as the owner).
revoke execute on all functions in schema private from public;

-- What later migrations create is no longer handed to `anon` and `authenticated` by default
-- (Supabase's platform default). A migration grants to portal_member what a policy allows.
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke all on functions from anon, authenticated;
-- Postgres itself lets PUBLIC execute every new function; that default is global, not per schema.
alter default privileges revoke execute on functions from public;
