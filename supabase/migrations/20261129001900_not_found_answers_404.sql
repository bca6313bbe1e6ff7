-- Not found answers 404 (issue 16, item 12).
--
-- PostgREST answers a raised SQLSTATE it does not know with HTTP 500, the portal's "not found"
-- (P0002) included; a SQLSTATE of the form PTxyz it answers with HTTP xyz, the message, detail and
-- hint unchanged. Every function in `public` and `private` whose body raises P0002 is re-created
-- here from its own definition (pg_get_functiondef) with PT404 instead: the same function, the
-- same message, now HTTP 404 with the sentence. CREATE OR REPLACE keeps the owner, the grants and
-- the settings. The migration is named to run after every other one of its session, so that it
-- sees each function's latest definition; tests/test_bounds_and_notes.py fails if any function
-- raises P0002 again (a later migration should raise PT404 itself).
--
-- And one answer for everyone a member may not look up: professionalism_record answered 403
-- ("A client's record is visible only to them") for a seeker's id, 404 for an unknown id and the
-- record for a consultant whose profile is hidden from the caller by a blocking conflict, so
-- that the answer told whether a UUID was a seeker's. It now answers 404 "No such member." for
-- all three, as get_consultant_profile does ("This consultant is not available to you.").
-- Only that door changes; what the record shows (`shown`) is as before.

create or replace function public.professionalism_record(p_member uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  is_consultant boolean;
  rec jsonb;
begin
  if me is null then
    raise exception 'Sign in to see records.' using errcode = '42501';
  end if;
  select p.is_consultant into is_consultant from public.profiles p where p.id = p_member;
  -- A seeker's id, an unknown id and a consultant hidden from the caller answer alike.
  if is_consultant is null
     or (p_member <> me and (not is_consultant
         or exists (select 1 from private.conflict_levels(me, array[p_member]) l where l.level = 'blocking'))) then
    raise exception 'No such member.' using errcode = 'PT404';
  end if;
  rec := private.professionalism_facts(p_member);
  if p_member <> me and not (rec ->> 'enough_events')::boolean then
    -- Not shown yet (fewer than 5 events): nothing of it leaves the database.
    return jsonb_build_object('shown', false);
  end if;
  return rec || jsonb_build_object('shown', true);
end;
$$;

do $$
declare
  fn record;
  definition text;
begin
  for fn in
    select p.oid
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('public', 'private') and p.prokind = 'f' and p.prosrc like '%''P0002''%'
      and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
  loop
    definition := pg_catalog.pg_get_functiondef(fn.oid);
    execute pg_catalog.replace(definition, '''P0002''', '''PT404''');
  end loop;
end
$$;
