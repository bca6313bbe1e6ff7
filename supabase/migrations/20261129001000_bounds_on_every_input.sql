-- Bounds on every input, and admin notes kept from other members (issue 16, items 5 and 10).
--
-- 1. Admin notes. `verification_note` on competencies and licences is what an admin wrote when
--    rejecting a credential: for its owner and the admins, nobody else. Members lose the
--    table-level SELECT (and INSERT) on both tables and get them back column by column, every
--    column but the note; `GET /competencies?select=verification_note` is refused (42501) for
--    every member token, and `select=*` too (name the columns). The owner reads their own notes
--    through get_my_practice and get_my_profile, which now run as the owner of the tables
--    (SECURITY DEFINER) and read only the caller's own rows (auth.uid()). profile_document stays
--    an invoker function (a member may call it for any profile RLS shows them) and no longer
--    carries the note.
--
-- 2. Bounds. Every RPC that takes an array or JSON refuses oversized input before doing any
--    work, with a sentence for the page and `detail` naming the field (P0001), as the other
--    refusals do:
--      save_my_availability   at most 100 weekly-hour rows, no two overlapping (or identical)
--                             ranges on one weekday; at most 200 date overrides, none
--                             overlapping on one date; at most 100 time-off rows
--      save_my_profile        at most 50 languages, 100 licences; the JSON at most 20,000 /
--                             40,000 characters
--      save_my_practice       at most 50 competencies; the JSON at most 50,000 characters
--      search_consultants     at most 50 modalities and 50 languages
--      request_consultation   at most 50 modalities (a trigger on consultation_requests, so that
--                             the function's latest definition is kept as it is)
--      mark_notifications_read at most 500 ids; consultant_records at most 50 ids
--      termination terms      (private.add_plan_version, the one door for start and revise)
--                             at most 20 referrals and 10,000 characters of them, each checklist
--                             item once, the whole terms at most 40,000 characters
--    Direct table writes (members may write their own weekly hours, overrides and time off
--    through the API) meet the same caps in statement-level triggers.
--    Each function below is its latest definition with only the checks added (and, for
--    item 1, the changes described there).

-- ---------------------------------------------------------------------------
-- 1. Admin notes
-- ---------------------------------------------------------------------------
revoke select, insert on public.competencies from portal_member;
grant select (id, consultant_id, modality, level, evidence_body, evidence_credential, evidence_year, training_hours,
              expires_on, verification_status, verified_at, created_at)
  on public.competencies to portal_member;
grant insert (id, consultant_id, modality, level, evidence_body, evidence_credential, evidence_year, training_hours,
              expires_on, verification_status, verified_at, created_at)
  on public.competencies to portal_member;

revoke select, insert on public.licenses from portal_member;
grant select (id, profile_id, license_type, license_number, jurisdiction, expires_on, verification_status,
              verified_at, created_at)
  on public.licenses to portal_member;
grant insert (id, profile_id, license_type, license_number, jurisdiction, expires_on, verification_status,
              verified_at, created_at)
  on public.licenses to portal_member;

-- A member may call it for any profile RLS shows them: the licences without the admins' notes.
create or replace function public.profile_document(p_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select to_jsonb(p) || jsonb_build_object(
    'licenses', coalesce((
      select jsonb_agg(to_jsonb(l) order by l.jurisdiction)
      from (select x.id, x.license_type, x.license_number, x.jurisdiction, x.expires_on, x.verification_status,
                   x.verified_at, x.created_at
            from public.licenses x where x.profile_id = p.id) l), '[]'::jsonb))
  from public.profiles p
  where p.id = p_id
$$;

-- The caller's own profile, with their licences' notes: as the tables' owner, for auth.uid() only.
create or replace function public.get_my_profile()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  doc jsonb;
begin
  if auth.uid() is null then
    raise exception 'Sign in to see your profile.' using errcode = '42501';
  end if;
  doc := public.profile_document(auth.uid());
  if doc is null then
    raise exception 'No profile exists for this account.'
      using errcode = 'PT404', hint = 'Sign out and in again; if it persists, contact the admin.';
  end if;
  return doc || jsonb_build_object(
    'licenses', coalesce((
      select jsonb_agg(to_jsonb(l) - 'profile_id' order by l.jurisdiction)
      from public.licenses l where l.profile_id = auth.uid()), '[]'::jsonb));
end;
$$;

-- The caller's own practice, with their competencies' notes: as the tables' owner, for auth.uid() only.
create or replace function public.get_my_practice()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'competencies', coalesce((
      select jsonb_agg(to_jsonb(c) - 'consultant_id' order by m.name)
      from public.competencies c join public.modalities m on m.code = c.modality
      where c.consultant_id = auth.uid()), '[]'),
    'intake', coalesce((
      select jsonb_build_object('accepting_new_clients', s.accepting_new_clients, 'capacity', s.capacity,
                                'version', s.version)
      from public.availability_settings s where s.consultant_id = auth.uid()),
      jsonb_build_object('accepting_new_clients', true, 'capacity', 8, 'version', 1)),
    'active_clients', (select count(*) from public.engagements e
                       where e.consultant_id = auth.uid() and e.status = 'active'))
$$;

-- My profile keeps where the member lives; answers with the member's own document (notes included).
create or replace function public.set_my_home_jurisdiction(p_jurisdiction text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'Sign in to change your profile.' using errcode = '42501';
  end if;
  if not exists (select 1 from public.jurisdictions j where j.code = p_jurisdiction) then
    raise exception 'Choose the state or province where you live.' using detail = 'home_jurisdiction';
  end if;
  update public.profiles set home_jurisdiction = p_jurisdiction, updated_at = now() where id = auth.uid();
  return public.get_my_profile();
end;
$$;

-- ---------------------------------------------------------------------------
-- 2. Bounds: profile and practice
-- ---------------------------------------------------------------------------
create or replace function public.save_my_profile(p_profile jsonb, p_licenses jsonb, p_expected_version integer)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  bad_language text;
  lic jsonb;
  kept_jurisdictions text[] := '{}';
begin
  if me is null then
    raise exception 'Sign in to change your profile.' using errcode = '42501';
  end if;
  if jsonb_typeof(p_profile) is distinct from 'object' then
    raise exception 'The profile must be a JSON object.' using errcode = '22023';
  end if;
  if jsonb_typeof(coalesce(p_licenses, '[]')) is distinct from 'array' then
    raise exception 'Licences must be a JSON array.' using errcode = '22023';
  end if;
  if jsonb_typeof(coalesce(p_profile -> 'languages', '[]')) is distinct from 'array' then
    raise exception 'Languages must be a JSON array.' using errcode = '22023';
  end if;
  if jsonb_array_length(coalesce(p_profile -> 'languages', '[]')) > 50 then
    raise exception 'Choose at most 50 languages.' using detail = 'languages', hint = 'Pick languages from the list.';
  end if;
  if jsonb_array_length(coalesce(p_licenses, '[]')) > 100 then
    raise exception 'List at most 100 licences, one per state or province.'
      using detail = 'licenses', hint = 'Remove the rows you do not need.';
  end if;
  if char_length(p_profile::text) > 20000 then
    raise exception 'The profile is too long to save: at most 20,000 characters in all.'
      using detail = 'bio', hint = 'The bio holds at most 2,000 characters.';
  end if;
  if char_length(coalesce(p_licenses, '[]')::text) > 40000 then
    raise exception 'The licences are too long to save: at most 40,000 characters in all.'
      using detail = 'licenses', hint = 'Shorten the licence types and numbers.';
  end if;

  select l into bad_language
  from jsonb_array_elements_text(coalesce(p_profile -> 'languages', '[]')) l
  where not exists (select 1 from public.languages x where x.code = l)
  limit 1;
  if bad_language is not null then
    raise exception 'Unknown language code "%".', left(bad_language, 20)
      using detail = 'languages', hint = 'Pick languages from the list.';
  end if;

  update public.profiles p set
    display_name      = btrim(p_profile ->> 'display_name'),
    pronouns          = nullif(btrim(p_profile ->> 'pronouns'), ''),
    languages         = array(select jsonb_array_elements_text(coalesce(p_profile -> 'languages', '[]'))),
    offers_telehealth = coalesce((p_profile ->> 'offers_telehealth')::boolean, false),
    offers_in_person  = coalesce((p_profile ->> 'offers_in_person')::boolean, false),
    city              = nullif(btrim(p_profile ->> 'city'), ''),
    fee_usd           = (p_profile ->> 'fee_usd')::integer,
    sliding_scale     = coalesce((p_profile ->> 'sliding_scale')::boolean, false),
    years_in_practice = (p_profile ->> 'years_in_practice')::integer,
    timezone          = p_profile ->> 'timezone',
    bio               = nullif(btrim(p_profile ->> 'bio'), ''),
    is_consultant     = coalesce((p_profile ->> 'is_consultant')::boolean, false),
    version           = p.version + 1,
    updated_at        = now()
  where p.id = me and p.version = p_expected_version;

  if not found then
    if exists (select 1 from public.profiles where id = me) then
      raise exception 'Your profile was changed elsewhere since this form was opened.'
        using detail = 'version',
              hint = 'Nothing was saved. Reload the latest version, then apply your changes again.';
    end if;
    raise exception 'No profile exists for this account.' using errcode = 'PT404';
  end if;

  for lic in select * from jsonb_array_elements(coalesce(p_licenses, '[]')) loop
    if lic ->> 'jurisdiction' = any (kept_jurisdictions) then
      raise exception 'Two licences name jurisdiction %.', lic ->> 'jurisdiction'
        using detail = 'licenses', hint = 'Keep one licence per state or province.';
    end if;
    kept_jurisdictions := kept_jurisdictions || (lic ->> 'jurisdiction');

    insert into public.licenses as l (profile_id, license_type, license_number, jurisdiction, expires_on)
    values (me, btrim(lic ->> 'license_type'), btrim(lic ->> 'license_number'),
            lic ->> 'jurisdiction', (lic ->> 'expires_on')::date)
    on conflict (profile_id, jurisdiction) do update
      set license_type = excluded.license_type,
          license_number = excluded.license_number,
          expires_on = excluded.expires_on
      where (l.license_type, l.license_number, l.expires_on)
            is distinct from (excluded.license_type, excluded.license_number, excluded.expires_on);
  end loop;

  delete from public.licenses
  where profile_id = me and not (jurisdiction = any (kept_jurisdictions));

  return public.get_my_profile();  -- the member's own document, their licences' notes included
end;
$$;

create or replace function public.save_my_practice(p_competencies jsonb, p_accepting boolean, p_capacity integer,
                                                   p_expected_version integer)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  row_doc jsonb;
  kept text[] := '{}';
  held integer;
  current_capacity integer;
begin
  if me is null then
    raise exception 'Sign in to change your practice.' using errcode = '42501';
  end if;
  if jsonb_typeof(coalesce(p_competencies, '[]')) <> 'array' then
    raise exception 'Competencies must be a JSON array.' using errcode = '22023';
  end if;
  if jsonb_array_length(coalesce(p_competencies, '[]')) > 50 then
    raise exception 'List at most 50 competencies, one per modality.'
      using detail = 'competencies', hint = 'Remove the rows you do not need.';
  end if;
  if char_length(coalesce(p_competencies, '[]')::text) > 50000 then
    raise exception 'The competencies are too long to save: at most 50,000 characters in all.'
      using detail = 'competencies', hint = 'Shorten the evidence.';
  end if;
  select s.capacity into current_capacity from public.availability_settings s where s.consultant_id = me;
  update public.availability_settings s
  set accepting_new_clients = coalesce(p_accepting, true), capacity = p_capacity,
      version = s.version + 1, updated_at = now()
  where s.consultant_id = me and s.version = p_expected_version;
  if not found then
    raise exception 'Your practice settings were changed elsewhere since this form was opened.'
      using detail = 'version',
            hint = 'Nothing was saved. Reload the latest version, then apply your changes again.';
  end if;
  -- Counted after the update has locked the settings row: an acceptance (which locks it
  -- too, and whose engagement trigger updates it) has then either committed or waits.
  held := (select count(*) from public.engagements e where e.consultant_id = me and e.status = 'active');
  if p_capacity is distinct from current_capacity and p_capacity < held then
    raise exception 'You have % active %; capacity can''t be lower.', held,
                    case when held = 1 then 'client' else 'clients' end
      using detail = 'capacity', hint = 'To stop taking new clients, turn off ''Accepting new clients''.';
  end if;

  for row_doc in select * from jsonb_array_elements(coalesce(p_competencies, '[]')) loop
    if row_doc ->> 'modality' = any (kept) then
      raise exception 'Modality % is listed twice.', row_doc ->> 'modality'
        using detail = 'competencies', hint = 'Keep one row per modality.';
    end if;
    kept := kept || (row_doc ->> 'modality');
    insert into public.competencies as c (consultant_id, modality, level, evidence_body, evidence_credential,
                                          evidence_year, training_hours, expires_on)
    values (me, row_doc ->> 'modality', (row_doc ->> 'level')::smallint,
            nullif(btrim(row_doc ->> 'evidence_body'), ''), nullif(btrim(row_doc ->> 'evidence_credential'), ''),
            (row_doc ->> 'evidence_year')::smallint, (row_doc ->> 'training_hours')::integer,
            (row_doc ->> 'expires_on')::date)
    on conflict (consultant_id, modality) do update
      set level = excluded.level, evidence_body = excluded.evidence_body,
          evidence_credential = excluded.evidence_credential, evidence_year = excluded.evidence_year,
          training_hours = excluded.training_hours, expires_on = excluded.expires_on
      where (c.level, c.evidence_body, c.evidence_credential, c.evidence_year, c.training_hours, c.expires_on)
            is distinct from (excluded.level, excluded.evidence_body, excluded.evidence_credential,
                              excluded.evidence_year, excluded.training_hours, excluded.expires_on);
  end loop;
  delete from public.competencies where consultant_id = me and not (modality = any (kept));
  return public.get_my_practice();
end;
$$;

-- ---------------------------------------------------------------------------
-- 2. Bounds: search and requests
-- ---------------------------------------------------------------------------
create or replace function public.search_consultants(
  p_jurisdiction   text,
  p_modalities     text[] default '{}',
  p_min_level      integer default 1,
  p_format         text default 'any',
  p_city           text default null,
  p_languages      text[] default '{}',
  p_max_fee        integer default null,
  p_sliding_ok     boolean default false,
  p_accepting_only boolean default true,
  p_times          integer default 0,
  p_limit          integer default 20,
  p_offset         integer default 0)
returns jsonb
language plpgsql
volatile  -- it writes the screening log, and refreshes facts whose day has passed
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  wanted text[] := coalesce(p_modalities, '{}');
  langs text[] := coalesce(p_languages, '{}');
  my_langs text[];
  min_level integer := greatest(1, least(coalesce(p_min_level, 1), 4));
  times integer := coalesce(p_times, 0) & 15;
  want_city text := nullif(lower(btrim(p_city)), '');
  competent_in text[];
  result jsonb;
  total integer;
begin
  if me is null then
    raise exception 'Sign in to search.' using errcode = '42501';
  end if;
  if p_jurisdiction is null or not exists (select 1 from public.jurisdictions j where j.code = p_jurisdiction) then
    raise exception 'Choose the state or province where you live.'
      using detail = 'jurisdiction', hint = 'Consultants must be licensed where you are.';
  end if;
  if coalesce(p_format, 'any') not in ('any', 'telehealth', 'in_person') then
    raise exception 'Format must be any, telehealth or in_person.' using detail = 'format';
  end if;
  -- Bounded input (20261129001000): the arrays are checked before any work is done on them.
  if cardinality(wanted) > 50 then
    raise exception 'Choose at most 50 modalities.' using detail = 'modalities', hint = 'Pick modalities from the list.';
  end if;
  if cardinality(langs) > 50 then
    raise exception 'Choose at most 50 languages.' using detail = 'languages', hint = 'Pick languages from the list.';
  end if;
  if exists (select 1 from unnest(wanted) w where not exists (select 1 from public.modalities m where m.code = w)) then
    raise exception 'Unknown modality.' using detail = 'modalities', hint = 'Pick modalities from the list.';
  end if;
  perform private.refresh_pending_search_facts();
  perform private.refresh_due_search_facts();
  select p.languages into my_langs from public.profiles p where p.id = me;
  competent_in := array(select w || '>=' || min_level from unnest(wanted) w);

  with candidates as materialized (
    -- Licensed here, competent in every wanted modality at the minimum level, and passing
    -- every other filter: one row each from the facts.
    select f.consultant_id, f.display_name, f.open_to_new, f.time_buckets, f.languages, f.fee_usd,
           f.sliding_scale, f.experience_score,
           case when cardinality(wanted) = 0 then f.fit_all
                else (select avg((f.modality_points ->> w)::float8) from unnest(wanted) w) end as fit
    from private.search_facts f
    where f.jurisdictions @> array[p_jurisdiction] and f.consultant_id <> me
      and (cardinality(wanted) = 0 or f.competence @> competent_in)
      and (coalesce(p_format, 'any') = 'any'
           or (p_format = 'telehealth' and f.offers_telehealth)
           or (p_format = 'in_person' and f.offers_in_person and (want_city is null or f.city_key = want_city)))
      and (cardinality(langs) = 0 or f.languages && langs)
      and (p_max_fee is null or f.fee_usd <= p_max_fee or (coalesce(p_sliding_ok, false) and f.sliding_scale))
      and (not coalesce(p_accepting_only, true) or f.open_to_new)
      and (times = 0 or f.time_buckets & times <> 0)
  ),
  conflicts as (
    select * from private.screen_conflicts(me, (select array_agg(consultant_id) from candidates), 'search')
  ),
  -- Scores in float8 (numeric arithmetic over thousands of candidates is several times slower);
  -- rounded to one decimal only for the page shown.
  scored as (
    select s.consultant_id as id, s.display_name, coalesce(x.level, 'none') as conflict, s.open_to_new as has_room,
           coalesce(s.fit, 0) as modality_score,
           (case when s.open_to_new then 10 else 0 end
            + case when times = 0 then case when s.time_buckets <> 0 then 10 else 0 end
                   else 10::float8 * bit_count((s.time_buckets & times)::bit(4))
                        / bit_count(times::bit(4)) end)::float8 as availability_score,
           s.experience_score,
           (case when cardinality(langs) > 0 then
                   case when langs[1] = any (s.languages) then 10 when s.languages && langs then 5 else 0 end
                 when s.languages && coalesce(my_langs, '{en}') then 10 else 0 end)::float8 as language_score,
           case when p_max_fee is not null then
                  case when s.fee_usd <= p_max_fee
                       then 5 + 5 * (1 - s.fee_usd::float8 / greatest(p_max_fee, 1))
                       else 3::float8 end
                else least(10::float8, 10 * (1 - least(coalesce(s.fee_usd, 300), 300) / 300::float8)
                                       + case when s.sliding_scale then 2 else 0 end) end as fee_score
    from candidates s
    left join conflicts x on x.consultant_id = s.consultant_id
    where x.level is distinct from 'blocking'
  ),
  ranked as (
    -- Each part is rounded to one decimal (half away from zero, like numeric round()) before
    -- summing, so the breakdown shown adds up to the score.
    select sc.id, sc.display_name, sc.conflict, sc.has_room,
           floor(modality_score * 10 + 0.5) / 10 as modality_part,
           floor(availability_score * 10 + 0.5) / 10 as availability_part,
           floor(experience_score * 10 + 0.5) / 10 as experience_part,
           floor(language_score * 10 + 0.5) / 10 as language_part,
           floor(fee_score * 10 + 0.5) / 10 as fee_part,
           floor((floor(modality_score * 10 + 0.5) + floor(availability_score * 10 + 0.5)
                  + floor(experience_score * 10 + 0.5) + floor(language_score * 10 + 0.5)
                  + floor(fee_score * 10 + 0.5)) / 10 + 0.5)::int as score
    from scored sc
  ),
  page as (
    select r.* from ranked r
    order by r.score desc, r.display_name, r.id
    limit least(greatest(coalesce(p_limit, 20), 1), 100) offset greatest(coalesce(p_offset, 0), 0)
  )
  select (select count(*)::int from ranked),
         coalesce((select jsonb_agg(jsonb_build_object(
                     'consultant_id', p.id, 'display_name', p.display_name, 'pronouns', p.pronouns,
                     'languages', p.languages, 'fee_usd', p.fee_usd, 'sliding_scale', p.sliding_scale,
                     'offers_telehealth', p.offers_telehealth, 'offers_in_person', p.offers_in_person,
                     'city', p.city, 'years_in_practice', p.years_in_practice, 'timezone', p.timezone,
                     'has_room', pg.has_room, 'conflict', pg.conflict, 'competencies', coalesce((
                       select jsonb_agg(jsonb_build_object(
                                'modality', c.modality, 'name', mo.name, 'level', c.level,
                                'verified', c.verification_status = 'verified'
                                            and (c.expires_on is null or c.expires_on >= current_date))
                              order by c.level desc, c.modality)
                       from public.competencies c
                       join public.modalities mo on mo.code = c.modality
                       where c.consultant_id = pg.id
                         and (cardinality(wanted) = 0 or c.modality = any (wanted))), '[]'),
                     'score', pg.score,
                     'breakdown', jsonb_build_object(
                        'modality', round(pg.modality_part::numeric, 1),
                        'availability', round(pg.availability_part::numeric, 1),
                        'experience', round(pg.experience_part::numeric, 1),
                        'language', round(pg.language_part::numeric, 1),
                        'fee', round(pg.fee_part::numeric, 1)))
                   order by pg.score desc, pg.display_name, pg.id)
                   from page pg join public.profiles p on p.id = pg.id), '[]')
  into total, result;

  return jsonb_build_object(
    'total', total,
    'results', result,
    'relax', case when total = 0 then public.search_relaxations(
      me, p_jurisdiction, wanted, min_level, p_format, want_city, langs, p_max_fee, p_sliding_ok, p_accepting_only, times)
    else '[]'::jsonb end);
end;
$$;

-- A request names at most 50 modalities. Checked on the row, so that request_consultation keeps its
-- latest definition exactly (the screening work redefines it); the sentence reaches the page as
-- every refusal of the request does (detail = the field).
create function private.requests_name_few_modalities()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if cardinality(new.modalities) > 50 then
    raise exception 'Choose at most 50 modalities.' using detail = 'modalities', hint = 'Pick modalities from the list.';
  end if;
  return new;
end;
$$;
revoke all on function private.requests_name_few_modalities() from public, anon, authenticated, service_role;
create trigger requests_name_few_modalities before insert or update of modalities on public.consultation_requests
  for each row execute function private.requests_name_few_modalities();

-- ---------------------------------------------------------------------------
-- 2. Bounds: notifications and records
-- ---------------------------------------------------------------------------
create or replace function public.mark_notifications_read(p_ids uuid[] default null)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  marked integer;
begin
  if cardinality(p_ids) > 500 then
    raise exception 'Mark at most 500 notifications at once, or leave the list out to mark them all.'
      using detail = 'ids';
  end if;
  with done as (
    update public.notifications set read_at = now()
    where user_id = auth.uid() and read_at is null and (p_ids is null or id = any (p_ids))
    returning 1)
  select count(*)::integer into marked from done;
  return marked;
end;
$$;

create or replace function public.consultant_records(p_consultants uuid[])
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if cardinality(p_consultants) > 50 then
    raise exception 'Ask for at most 50 consultants'' records at once.' using detail = 'consultants';
  end if;
  return (
    select coalesce(jsonb_object_agg(p.id, f.facts), '{}')
    from public.profiles p
    cross join lateral (select private.professionalism_facts(p.id) as facts) f
    where p.id = any (p_consultants[1:50]) and p.is_consultant and (f.facts ->> 'enough_events')::boolean);
end;
$$;

-- ---------------------------------------------------------------------------
-- 2. Bounds: termination terms (one door for start and revise: every version is immutable)
-- ---------------------------------------------------------------------------
create or replace function private.add_plan_version(p_plan public.termination_plans, p_terms jsonb, p_author uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  next_version integer := (select coalesce(max(version), 0) + 1 from public.termination_plan_versions
                           where plan_id = p_plan.id);
  referrals jsonb := coalesce(p_terms -> 'referrals', '[]');
  checklist jsonb := coalesce(p_terms -> 'checklist', '[]');
begin
  if char_length(coalesce(p_terms, '{}')::text) > 40000 then
    raise exception 'The plan is too long to save: at most 40,000 characters in all.'
      using hint = 'Shorten the notes and the referrals.';
  end if;
  if jsonb_typeof(referrals) = 'array' and jsonb_array_length(referrals) > 20 then
    raise exception 'List at most 20 referrals.'
      using detail = jsonb_build_object('referrals', 'List at most 20 referrals.')::text;
  end if;
  if char_length(referrals::text) > 10000 then
    raise exception 'The referrals take at most 10,000 characters in all.'
      using detail = jsonb_build_object('referrals',
              'The referrals take at most 10,000 characters in all; shorten the names and notes.')::text;
  end if;
  if jsonb_typeof(checklist) = 'array'
     and jsonb_array_length(checklist) > (select count(distinct e) from jsonb_array_elements(checklist) e) then
    raise exception 'Tick each checklist item once.'
      using detail = jsonb_build_object('checklist', 'Tick each checklist item once.')::text;
  end if;
  insert into public.termination_plan_versions (
    plan_id, version, author_id, initiated_by, reason, reason_notes, discussed_on, final_session_on,
    sessions_remaining, closing_sessions, referrals, follow_up_on, aftercare_notes, checklist, safety_justification)
  values (
    p_plan.id, next_version, p_author, p_terms ->> 'initiated_by', p_terms ->> 'reason',
    nullif(btrim(p_terms ->> 'reason_notes'), ''), (p_terms ->> 'discussed_on')::date,
    (p_terms ->> 'final_session_on')::date, (p_terms ->> 'sessions_remaining')::smallint,
    (p_terms ->> 'closing_sessions')::smallint, coalesce(p_terms -> 'referrals', '[]'),
    (p_terms ->> 'follow_up_on')::date, nullif(btrim(p_terms ->> 'aftercare_notes'), ''),
    coalesce(array(select jsonb_array_elements_text(p_terms -> 'checklist')), '{}'),
    nullif(btrim(p_terms ->> 'safety_justification'), ''));
  return next_version;
end;
$$;

-- ---------------------------------------------------------------------------
-- 2. Bounds: availability. Checked in full before anything is written: at most 100 weekly-hour
-- rows, none overlapping another on the same weekday (an identical row overlaps too: duplicates
-- multiplied every open slot); at most 200 date overrides, no two overlapping on one date (nor two
-- days off); at most 100 time-off rows. The sentences name the weekday or date; `detail` the grid.
-- ---------------------------------------------------------------------------
create or replace function public.save_my_availability(p_settings jsonb, p_weekly_hours jsonb, p_overrides jsonb,
                                                       p_time_off jsonb, p_expected_version integer)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  clash record;
begin
  if me is null then
    raise exception 'Sign in to change your availability.' using errcode = '42501';
  end if;
  if jsonb_typeof(coalesce(p_weekly_hours, '[]')) <> 'array' or jsonb_typeof(coalesce(p_overrides, '[]')) <> 'array'
     or jsonb_typeof(coalesce(p_time_off, '[]')) <> 'array' then
    raise exception 'Weekly hours, overrides and time off must be JSON arrays.' using errcode = '22023';
  end if;
  if jsonb_array_length(coalesce(p_weekly_hours, '[]')) > 100 then
    raise exception 'Weekly hours hold at most 100 rows; merge ranges on the same day or remove some.'
      using detail = 'weekly_hours';
  end if;
  if jsonb_array_length(coalesce(p_overrides, '[]')) > 200 then
    raise exception 'Date overrides hold at most 200 rows; remove the ones you no longer need.'
      using detail = 'overrides';
  end if;
  if jsonb_array_length(coalesce(p_time_off, '[]')) > 100 then
    raise exception 'Time off holds at most 100 rows; merge periods that touch or remove some.'
      using detail = 'time_off';
  end if;
  select h.weekday, h.starts_at, h.earlier_end into clash
  from (select r.weekday, r.starts_at,
               max(r.ends_at) over (partition by r.weekday order by r.starts_at, r.ends_at
                                    rows between unbounded preceding and 1 preceding) as earlier_end
        from (select (e ->> 'weekday')::smallint as weekday, (e ->> 'starts_at')::time as starts_at,
                     (e ->> 'ends_at')::time as ends_at
              from jsonb_array_elements(coalesce(p_weekly_hours, '[]')) e) r) h
  where h.starts_at < h.earlier_end
  order by h.weekday, h.starts_at
  limit 1;
  if found then
    raise exception '%: two ranges overlap (one ends at %, another starts at %); merge them into one row.',
      (array['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'])[clash.weekday],
      to_char(clash.earlier_end, 'HH24:MI'), to_char(clash.starts_at, 'HH24:MI')
      using detail = 'weekly_hours';
  end if;
  select o.on_date into clash
  from (select r.on_date, r.starts_at,
               max(r.ends_at) over (partition by r.on_date order by r.starts_at, r.ends_at
                                    rows between unbounded preceding and 1 preceding) as earlier_end,
               count(*) filter (where r.starts_at is null) over (partition by r.on_date) as days_off
        from (select (e ->> 'on_date')::date as on_date, (e ->> 'starts_at')::time as starts_at,
                     (e ->> 'ends_at')::time as ends_at
              from jsonb_array_elements(coalesce(p_overrides, '[]')) e) r) o
  where o.days_off > 1 or o.starts_at < o.earlier_end
  order by o.on_date
  limit 1;
  if found then
    raise exception 'Two overrides overlap on %; merge them into one row.', to_char(clash.on_date, 'FMDD Mon YYYY')
      using detail = 'overrides';
  end if;

  update public.availability_settings s set
    session_minutes       = (p_settings ->> 'session_minutes')::smallint,
    buffer_minutes        = (p_settings ->> 'buffer_minutes')::smallint,
    min_notice_hours      = (p_settings ->> 'min_notice_hours')::smallint,
    max_sessions_per_week = (p_settings ->> 'max_sessions_per_week')::smallint,
    late_cancel_hours     = (p_settings ->> 'late_cancel_hours')::smallint,
    capacity              = coalesce((p_settings ->> 'capacity')::smallint, s.capacity),
    accepting_new_clients = coalesce((p_settings ->> 'accepting_new_clients')::boolean, s.accepting_new_clients),
    version = s.version + 1, updated_at = now()
  where s.consultant_id = me and s.version = p_expected_version;
  if not found then
    raise exception 'Your availability was changed elsewhere since this form was opened.'
      using detail = 'version', hint = 'Nothing was saved. Reload the latest version, then apply your changes again.';
  end if;
  if p_settings ? 'timezone' then
    update public.profiles set timezone = p_settings ->> 'timezone', version = version + 1, updated_at = now()
    where id = me and timezone is distinct from p_settings ->> 'timezone';
  end if;
  delete from public.weekly_hours where consultant_id = me;
  insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at)
  select me, (h ->> 'weekday')::smallint, (h ->> 'starts_at')::time, (h ->> 'ends_at')::time
  from jsonb_array_elements(coalesce(p_weekly_hours, '[]')) h;
  delete from public.date_overrides where consultant_id = me and on_date >= current_date - 1;
  insert into public.date_overrides (consultant_id, on_date, starts_at, ends_at)
  select me, (o ->> 'on_date')::date, (o ->> 'starts_at')::time, (o ->> 'ends_at')::time
  from jsonb_array_elements(coalesce(p_overrides, '[]')) o;
  delete from public.time_off where consultant_id = me and ends_on >= current_date - 1;
  insert into public.time_off (consultant_id, starts_on, ends_on, note)
  select me, (t ->> 'starts_on')::date, (t ->> 'ends_on')::date, nullif(btrim(t ->> 'note'), '')
  from jsonb_array_elements(coalesce(p_time_off, '[]')) t;
  return public.get_my_availability();
end;
$$;

-- The same caps on the tables themselves: members may write their own rows through the API too.
-- After each statement, over the rows of the consultants it touched (as they stand then).
create function private.weekly_hours_within_bounds()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if exists (select 1 from public.weekly_hours h where h.consultant_id in (select c.consultant_id from changed c)
             group by h.consultant_id having count(*) > 100) then
    raise exception 'Weekly hours hold at most 100 rows; merge ranges on the same day or remove some.'
      using detail = 'weekly_hours';
  end if;
  if exists (select 1 from public.weekly_hours a join public.weekly_hours b
               on b.consultant_id = a.consultant_id and b.weekday = a.weekday and b.id <> a.id
              and b.starts_at < a.ends_at and a.starts_at < b.ends_at
             where a.id in (select c.id from changed c)) then
    raise exception 'Two weekly-hour ranges overlap on the same day; merge them into one row.'
      using detail = 'weekly_hours';
  end if;
  return null;
end;
$$;
revoke all on function private.weekly_hours_within_bounds() from public, anon, authenticated, service_role;
create trigger weekly_hours_within_bounds_insert after insert on public.weekly_hours
  referencing new table as changed for each statement execute function private.weekly_hours_within_bounds();
create trigger weekly_hours_within_bounds_update after update on public.weekly_hours
  referencing new table as changed for each statement execute function private.weekly_hours_within_bounds();

create function private.date_overrides_within_bounds()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if exists (select 1 from public.date_overrides o
             where o.consultant_id in (select c.consultant_id from changed c) and o.on_date >= current_date - 1
             group by o.consultant_id having count(*) > 200) then
    raise exception 'Date overrides hold at most 200 rows; remove the ones you no longer need.'
      using detail = 'overrides';
  end if;
  if exists (select 1 from public.date_overrides a join public.date_overrides b
               on b.consultant_id = a.consultant_id and b.on_date = a.on_date and b.id <> a.id
              and ((a.starts_at is null and b.starts_at is null)
                   or (b.starts_at < a.ends_at and a.starts_at < b.ends_at))
             where a.id in (select c.id from changed c)) then
    raise exception 'Two overrides overlap on the same date; merge them into one row.' using detail = 'overrides';
  end if;
  return null;
end;
$$;
revoke all on function private.date_overrides_within_bounds() from public, anon, authenticated, service_role;
create trigger date_overrides_within_bounds_insert after insert on public.date_overrides
  referencing new table as changed for each statement execute function private.date_overrides_within_bounds();
create trigger date_overrides_within_bounds_update after update on public.date_overrides
  referencing new table as changed for each statement execute function private.date_overrides_within_bounds();

create function private.time_off_within_bounds()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if exists (select 1 from public.time_off t
             where t.consultant_id in (select c.consultant_id from changed c) and t.ends_on >= current_date - 1
             group by t.consultant_id having count(*) > 100) then
    raise exception 'Time off holds at most 100 rows; merge periods that touch or remove some.'
      using detail = 'time_off';
  end if;
  return null;
end;
$$;
revoke all on function private.time_off_within_bounds() from public, anon, authenticated, service_role;
create trigger time_off_within_bounds_insert after insert on public.time_off
  referencing new table as changed for each statement execute function private.time_off_within_bounds();
create trigger time_off_within_bounds_update after update on public.time_off
  referencing new table as changed for each statement execute function private.time_off_within_bounds();
