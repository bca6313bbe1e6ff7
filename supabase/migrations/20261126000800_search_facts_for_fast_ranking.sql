-- Search over one precomputed row per consultant.
--
-- Find a consultant used to gather each candidate from four tables (licences,
-- profiles, availability settings, competencies) on every call: "California, any
-- modality" scored 8,000 candidates through 40,000 index probes and took ~100 ms
-- at 50,000 consultants. What a search filters and ranks on that does not depend
-- on the query now lives in private.search_facts, recomputed when the tables it is
-- drawn from change (at commit, consultant by consultant), so a search reads one
-- compact row per candidate.
--
-- Two facts depend on the date: a licence counts until it expires, and a
-- competency counts as verified until its credential expires. Each row records
-- the last day it holds (valid_until); a search first recomputes the rows whose
-- day has passed (on most days none, found by index), so no scheduler is needed.
--
-- Screening keeps its single seam: search and the relaxation counts ask
-- private.screen_conflicts, which returns only the candidates with a conflict
-- (a few) instead of a level for each of thousands; public.screen_candidates
-- is that same function with 'none' filled in for everyone else.

-- ---------------------------------------------------------------------------
-- The facts
-- ---------------------------------------------------------------------------
create table private.search_facts (
  consultant_id      uuid primary key references public.profiles (id) on delete cascade,
  display_name       text not null,
  jurisdictions      text[] not null,     -- where an unexpired licence is held
  offers_telehealth  boolean not null,
  offers_in_person   boolean not null,
  city_key           text,                -- lower(city), as the in-person filter compares it
  languages          text[] not null,
  fee_usd            integer,
  sliding_scale      boolean not null,
  open_to_new        boolean not null,    -- accepting new clients and below capacity
  time_buckets       smallint not null,
  experience_score   float8 not null,     -- the experience part of the score (query-independent)
  fit_all            float8,              -- modality fit over all competencies (no modality asked)
  -- "cbt>=1", "cbt>=2", "cbt>=3" for a level-3 CBT competency: competent in every wanted
  -- modality at level n is then one array containment, and its points one lookup each.
  competence         text[] not null,
  modality_points    jsonb not null,      -- modality -> level x 7.5 (+10 when verified and unexpired)
  valid_until        date not null        -- the last day the date-dependent facts above hold
);
create index search_facts_jurisdictions_idx on private.search_facts using gin (jurisdictions);
create index search_facts_competence_idx on private.search_facts using gin (competence);
create index search_facts_valid_until_idx on private.search_facts (valid_until);
alter table private.search_facts enable row level security;
revoke all on private.search_facts from public, anon, authenticated, service_role;

-- The day the date-dependent facts are computed for: UTC's, whatever zone a session
-- is in (a client can set its own through PostgREST), since the rows are shared.
create function private.search_facts_today()
returns date
language sql
stable
set search_path = ''
as $$
  select (now() at time zone 'UTC')::date
$$;
revoke all on function private.search_facts_today() from public, anon, authenticated;

-- The advisory lock keys: one per consultant, and (no consultant) the one over all facts.
create function private.search_facts_lock_key(p_consultant uuid default null)
returns bigint
language sql
immutable
set search_path = ''
as $$
  select hashtextextended('search_facts' || coalesce(':' || p_consultant::text, ''), 0)
$$;
revoke all on function private.search_facts_lock_key(uuid) from public, anon, authenticated;

-- Before a consultant's facts are read and written, their lock: two transactions
-- changing the same consultant then recompute one after the other, the second
-- reading what the first committed (without it, the later writer could store
-- facts computed before the earlier one's change). Many consultants at once (a bulk
-- change, the first fill) take one lock over all facts instead of thousands.
create function private.lock_search_facts(p_consultants uuid[])
returns void
language sql
volatile
set search_path = ''
as $$
  select case when cardinality(p_consultants) > 500
              then pg_advisory_xact_lock(private.search_facts_lock_key())
              else pg_advisory_xact_lock_shared(private.search_facts_lock_key()) end;
  select pg_advisory_xact_lock(keys.k)
  from (select distinct private.search_facts_lock_key(id) as k
        from unnest(p_consultants) id where cardinality(p_consultants) <= 500 order by 1) keys;
$$;
revoke all on function private.lock_search_facts(uuid[]) from public, anon, authenticated;

-- Recompute the facts of these consultants from the tables they are drawn from;
-- members who no longer offer consultation lose their row. Locks first: every
-- statement after it reads what other transactions have committed by then.
create function private.refresh_search_facts(p_consultants uuid[])
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  select private.lock_search_facts(p_consultants);

  delete from private.search_facts f
  using unnest(p_consultants) as changed(id)
  where f.consultant_id = changed.id
    and not exists (select 1 from public.profiles p
                    join public.availability_settings s on s.consultant_id = p.id
                    where p.id = changed.id and p.is_consultant);

  insert into private.search_facts as f (
    consultant_id, display_name, jurisdictions, offers_telehealth, offers_in_person, city_key, languages, fee_usd,
    sliding_scale, open_to_new, time_buckets, experience_score, fit_all, competence, modality_points, valid_until)
  select p.id, p.display_name,
         coalesce((select array_agg(l.jurisdiction order by l.jurisdiction) from public.licenses l
                   where l.profile_id = p.id and l.expires_on >= private.search_facts_today()), '{}'),
         p.offers_telehealth, p.offers_in_person, lower(p.city), p.languages, p.fee_usd, p.sliding_scale,
         s.accepting_new_clients and s.active_clients < s.capacity,
         s.time_buckets,
         15::float8 * least(coalesce(p.years_in_practice, 0), 25) / 25 + 5::float8 * least(s.clients_served, 5) / 5,
         (select avg(c.level * 7.5::float8 + case when c.verification_status = 'verified'
                                                   and (c.expires_on is null or c.expires_on >= private.search_facts_today())
                                              then 10::float8 else 0::float8 end)
          from public.competencies c where c.consultant_id = p.id),
         coalesce((select array_agg(c.modality || '>=' || n order by c.modality, n)
                   from public.competencies c cross join generate_series(1, c.level) n
                   where c.consultant_id = p.id), '{}'),
         coalesce((select jsonb_object_agg(c.modality, c.level * 7.5::float8
                                             + case when c.verification_status = 'verified'
                                                     and (c.expires_on is null or c.expires_on >= private.search_facts_today())
                                                    then 10::float8 else 0::float8 end)
                   from public.competencies c where c.consultant_id = p.id), '{}'),
         least(coalesce((select min(l.expires_on) from public.licenses l
                         where l.profile_id = p.id and l.expires_on >= private.search_facts_today()), 'infinity'::date),
               coalesce((select min(c.expires_on) from public.competencies c
                         where c.consultant_id = p.id and c.verification_status = 'verified'
                           and c.expires_on >= private.search_facts_today()), 'infinity'::date))
  from (select distinct id from unnest(p_consultants) as changed(id)) changed
  join public.profiles p on p.id = changed.id
  join public.availability_settings s on s.consultant_id = p.id
  where p.is_consultant
  on conflict (consultant_id) do update set
    display_name = excluded.display_name, jurisdictions = excluded.jurisdictions,
    offers_telehealth = excluded.offers_telehealth, offers_in_person = excluded.offers_in_person,
    city_key = excluded.city_key, languages = excluded.languages, fee_usd = excluded.fee_usd,
    sliding_scale = excluded.sliding_scale, open_to_new = excluded.open_to_new,
    time_buckets = excluded.time_buckets, experience_score = excluded.experience_score,
    fit_all = excluded.fit_all, competence = excluded.competence, modality_points = excluded.modality_points,
    valid_until = excluded.valid_until;
$$;
revoke all on function private.refresh_search_facts(uuid[]) from public, anon, authenticated;

-- Rows whose day has passed (a licence or a verified credential expired since):
-- recomputed by the first search of the day. A row another transaction is
-- recomputing right now is left to it (no waiting, no deadlock).
create function private.refresh_due_search_facts()
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  with due as materialized (
    select f.consultant_id from private.search_facts f
    where f.valid_until < private.search_facts_today()
  )
  select private.refresh_search_facts(array(
    select d.consultant_id from due d
    where pg_try_advisory_xact_lock_shared(private.search_facts_lock_key())
      and pg_try_advisory_xact_lock(private.search_facts_lock_key(d.consultant_id))))
  where exists (select 1 from due);
$$;
revoke all on function private.refresh_due_search_facts() from public, anon, authenticated;

-- Changes are noted by statement (which consultants) and the facts recomputed once,
-- when the transaction commits: by then it holds every row lock it will take, so
-- the facts' locks always come last and cannot interleave with another save's
-- (two saves of one consultant, or a save and an admin's verification). A search
-- in the same transaction recomputes what is pending first, so it reads its own writes.
create function private.search_facts_note_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  changed text;
begin
  -- tg_argv[0] names the column holding the consultant.
  if tg_op = 'INSERT' then
    select string_agg(distinct to_jsonb(n) ->> tg_argv[0], ',') into changed from new_rows n;
  elsif tg_op = 'DELETE' then
    select string_agg(distinct to_jsonb(o) ->> tg_argv[0], ',') into changed from old_rows o;
  else
    select string_agg(distinct id, ',') into changed from (
      select to_jsonb(n) ->> tg_argv[0] as id from new_rows n
      union select to_jsonb(o) ->> tg_argv[0] from old_rows o) ids;
  end if;
  if changed is not null then
    perform set_config('portal.search_facts_pending',
                       concat_ws(',', nullif(current_setting('portal.search_facts_pending', true), ''), changed),
                       true);
  end if;
  return null;
end;
$$;
revoke all on function private.search_facts_note_changes() from public, anon, authenticated;

create function private.refresh_pending_search_facts()
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  pending uuid[] := string_to_array(nullif(current_setting('portal.search_facts_pending', true), ''), ',')::uuid[];
begin
  if pending is not null then
    perform set_config('portal.search_facts_pending', '', true);
    perform private.refresh_search_facts(array(select distinct id from unnest(pending) id));
  end if;
end;
$$;
revoke all on function private.refresh_pending_search_facts() from public, anon, authenticated;

create function private.search_facts_at_commit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.refresh_pending_search_facts();  -- the first row's trigger does it all; the rest find nothing
  return null;
end;
$$;
revoke all on function private.search_facts_at_commit() from public, anon, authenticated;

create trigger search_facts_note_profile_insert after insert on public.profiles
  referencing new table as new_rows for each statement execute function private.search_facts_note_changes('id');
create trigger search_facts_note_profile_update after update on public.profiles
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.search_facts_note_changes('id');
create constraint trigger search_facts_refresh_profile after insert or update on public.profiles
  deferrable initially deferred for each row execute function private.search_facts_at_commit();

create trigger search_facts_note_settings_insert after insert on public.availability_settings
  referencing new table as new_rows
  for each statement execute function private.search_facts_note_changes('consultant_id');
create trigger search_facts_note_settings_update after update on public.availability_settings
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.search_facts_note_changes('consultant_id');
create trigger search_facts_note_settings_delete after delete on public.availability_settings
  referencing old table as old_rows
  for each statement execute function private.search_facts_note_changes('consultant_id');
create constraint trigger search_facts_refresh_settings after insert or update or delete
  on public.availability_settings
  deferrable initially deferred for each row execute function private.search_facts_at_commit();

create trigger search_facts_note_licence_insert after insert on public.licenses
  referencing new table as new_rows
  for each statement execute function private.search_facts_note_changes('profile_id');
create trigger search_facts_note_licence_update after update on public.licenses
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.search_facts_note_changes('profile_id');
create trigger search_facts_note_licence_delete after delete on public.licenses
  referencing old table as old_rows
  for each statement execute function private.search_facts_note_changes('profile_id');
create constraint trigger search_facts_refresh_licence after insert or update or delete on public.licenses
  deferrable initially deferred for each row execute function private.search_facts_at_commit();

create trigger search_facts_note_competency_insert after insert on public.competencies
  referencing new table as new_rows
  for each statement execute function private.search_facts_note_changes('consultant_id');
create trigger search_facts_note_competency_update after update on public.competencies
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.search_facts_note_changes('consultant_id');
create trigger search_facts_note_competency_delete after delete on public.competencies
  referencing old table as old_rows
  for each statement execute function private.search_facts_note_changes('consultant_id');
create constraint trigger search_facts_refresh_competency after insert or update or delete on public.competencies
  deferrable initially deferred for each row execute function private.search_facts_at_commit();

select private.refresh_search_facts(array(select p.id from public.profiles p where p.is_consultant));

-- ---------------------------------------------------------------------------
-- Screening: only the candidates with a conflict
-- ---------------------------------------------------------------------------
create function private.conflicts_found(p_seeker uuid, p_consultants uuid[])
returns table (consultant_id uuid, level text, fingerprint text)
language sql
stable
security definer
set search_path = ''
as $$
  with per_pair as (
    select r.consultant_id,
           bool_or(r.severity = 'blocking') as blocking,
           bool_or(r.severity = 'potential') as potential,
           md5(string_agg(r.reason_key, ',' order by r.reason_key)
               filter (where r.severity = 'potential')) as fingerprint
    from private.conflict_reasons(p_seeker, p_consultants) r
    group by r.consultant_id
  )
  select p.consultant_id,
         case when p.blocking then 'blocking'
              when p.potential and exists (
                select 1 from public.conflict_waivers w
                where w.seeker_id = p_seeker and w.consultant_id = p.consultant_id and w.fingerprint = p.fingerprint
                  and w.seeker_signed_at is not null and w.consultant_signed_at is not null) then 'waived'
              when p.potential then 'potential'
              else 'none' end,
         p.fingerprint
  from per_pair p
$$;
revoke all on function private.conflicts_found(uuid, uuid[]) from public, anon, authenticated;

create or replace function private.conflict_levels(p_seeker uuid, p_consultants uuid[])
returns table (consultant_id uuid, level text, fingerprint text)
language sql
stable
security definer
set search_path = ''
as $$
  select x, coalesce(f.level, 'none'), f.fingerprint
  from unnest(p_consultants) x
  left join private.conflicts_found(p_seeker, p_consultants) f on f.consultant_id = x
$$;

-- Screen a batch, log it once when a context is named, and return the candidates
-- with a conflict (everyone else: none).
create function private.screen_conflicts(p_seeker uuid, p_consultants uuid[], p_context text default null)
returns table (consultant_id uuid, level text)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  ids uuid[];
  levels text[];
begin
  select coalesce(array_agg(f.consultant_id), '{}'), coalesce(array_agg(f.level), '{}') into ids, levels
  from private.conflicts_found(p_seeker, coalesce(p_consultants, '{}')) f
  where f.level <> 'none';
  if p_context is not null then
    perform private.log_screening(
      p_seeker, case when cardinality(p_consultants) = 1 then p_consultants[1] end, p_context,
      case when 'blocking' = any (levels) then 'blocking' when 'potential' = any (levels) then 'potential'
           when 'waived' = any (levels) then 'waived' else 'none' end,
      coalesce(cardinality(p_consultants), 0), cardinality(ids));
  end if;
  return query select * from unnest(ids, levels);
end;
$$;
revoke all on function private.screen_conflicts(uuid, uuid[], text) from public, anon, authenticated;

create or replace function public.screen_candidates(p_seeker uuid, p_consultants uuid[], p_context text default null)
returns table (consultant_id uuid, level text)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  ids uuid[];
  levels text[];
begin
  -- Always screened (and logged), an empty list included.
  select coalesce(array_agg(f.consultant_id), '{}'), coalesce(array_agg(f.level), '{}') into ids, levels
  from private.screen_conflicts(p_seeker, p_consultants, p_context) f;
  return query
  select x, coalesce(found.level, 'none')
  from unnest(coalesce(p_consultants, '{}')) x
  left join unnest(ids, levels) as found (consultant_id, level) on found.consultant_id = x;
end;
$$;

-- ---------------------------------------------------------------------------
-- Search, on the facts. Same filters, score and ties as before (documented in
-- portal/search.py and the README); only where the numbers come from changed.
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

-- When a search finds nobody: for each filter, how many consultants it alone kept
-- out (they pass every other filter), screened like the search itself so the counts
-- never reveal a hidden blocking conflict. One pass over the facts.
create or replace function public.search_relaxations(
  p_me uuid, p_jurisdiction text, p_modalities text[], p_min_level integer, p_format text, p_city text,
  p_languages text[], p_max_fee integer, p_sliding_ok boolean, p_accepting_only boolean, p_times integer)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  with flags as (
    select f.consultant_id as id,
      f.jurisdictions @> array[p_jurisdiction] as jurisdiction,
      f.competence @> array(select w || '>=' || p_min_level from unnest(p_modalities) w) as modalities,
      f.competence @> array(select w || '>=1' from unnest(p_modalities) w) as modalities_any_level,
      (coalesce(p_format, 'any') = 'any'
       or (p_format = 'telehealth' and f.offers_telehealth)
       or (p_format = 'in_person' and f.offers_in_person and (p_city is null or f.city_key = p_city)))
        as format,
      (cardinality(p_languages) = 0 or f.languages && p_languages) as languages,
      (p_max_fee is null or f.fee_usd <= p_max_fee or (coalesce(p_sliding_ok, false) and f.sliding_scale)) as fee,
      (not coalesce(p_accepting_only, true) or f.open_to_new) as capacity,
      (coalesce(p_times, 0) = 0 or f.time_buckets & p_times <> 0) as times
    from private.search_facts f
    -- A consultant kept out by one filter alone passes either the licence or the modalities.
    where f.consultant_id <> p_me
      and (f.jurisdictions @> array[p_jurisdiction]
           or f.competence @> array(select w || '>=1' from unnest(p_modalities) w))
  ),
  near as materialized (
    select * from flags
    where jurisdiction::int + modalities::int + format::int + languages::int + fee::int + capacity::int
          + times::int = 6
  ),
  blocked as materialized (
    select x.consultant_id from private.screen_conflicts(p_me, (select array_agg(id) from near), null) x
    where x.level = 'blocking'
  ),
  screened as (
    select n.* from near n where n.id not in (select consultant_id from blocked)
  )
  select coalesce(jsonb_agg(jsonb_build_object('filter', f, 'count', n) order by n desc, f), '[]')
  from (
    select 'jurisdiction' f, count(*) filter (where not jurisdiction) n from screened
    union all select 'min_level', count(*) filter (where not modalities and modalities_any_level) from screened
    union all select 'modalities', count(*) filter (where not modalities and not modalities_any_level) from screened
    union all select 'format', count(*) filter (where not format) from screened
    union all select 'languages', count(*) filter (where not languages) from screened
    union all select 'fee', count(*) filter (where not fee) from screened
    union all select 'capacity', count(*) filter (where not capacity) from screened
    union all select 'times', count(*) filter (where not times) from screened
  ) counts
  where n > 0
$$;
