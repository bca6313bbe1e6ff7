-- Find a consultant: modality competencies with evidence and verification,
-- the consultant's intake settings and weekly hours, consultation requests
-- and engagements, the ranked search, and the admin's verification queue.

-- ---------------------------------------------------------------------------
-- Modalities (reference data, extendable by an admin)
-- ---------------------------------------------------------------------------
create table public.modalities (
  code        text primary key check (code ~ '^[a-z][a-z0-9_]{1,30}$'),
  name        text not null unique check (char_length(btrim(name)) between 2 and 60),
  description text check (char_length(description) <= 300),
  created_at  timestamptz not null default now()
);
alter table public.modalities enable row level security;
revoke all on public.modalities from public, anon, authenticated;
grant select on public.modalities to authenticated;
grant all on public.modalities to service_role;
create policy "members read modalities" on public.modalities for select to authenticated using (true);

insert into public.modalities (code, name, description) values
  ('cbt', 'CBT', 'Cognitive behavioural therapy'),
  ('dbt', 'DBT', 'Dialectical behaviour therapy'),
  ('act', 'ACT', 'Acceptance and commitment therapy'),
  ('emdr', 'EMDR', 'Eye movement desensitisation and reprocessing'),
  ('psychodynamic', 'Psychodynamic', 'Psychodynamic psychotherapy'),
  ('psychoanalytic', 'Psychoanalytic', 'Psychoanalysis and psychoanalytic psychotherapy'),
  ('ifs', 'IFS', 'Internal family systems'),
  ('schema', 'Schema therapy', null),
  ('eft', 'EFT', 'Emotionally focused therapy'),
  ('cpt', 'CPT', 'Cognitive processing therapy'),
  ('pe', 'PE', 'Prolonged exposure'),
  ('somatic', 'Somatic', 'Somatic experiencing and body-based approaches'),
  ('mindfulness', 'Mindfulness-based', 'MBCT, MBSR and related'),
  ('mi', 'MI', 'Motivational interviewing'),
  ('narrative', 'Narrative', 'Narrative therapy'),
  ('family_systems', 'Family systems', null),
  ('gottman', 'Gottman', 'Gottman method couples therapy'),
  ('sex_therapy', 'Sex therapy', null),
  ('play_therapy', 'Play therapy', null);

-- ---------------------------------------------------------------------------
-- Competencies: consultant x modality x level, with evidence
-- ---------------------------------------------------------------------------
create table public.competencies (
  id                   uuid primary key default gen_random_uuid(),
  consultant_id        uuid not null references public.profiles (id) on delete cascade,
  modality             text not null references public.modalities (code) on update cascade,
  level                smallint not null
                       constraint competencies_level_range check (level between 1 and 4),
  evidence_body        text constraint competencies_body_length check (char_length(evidence_body) <= 120),
  evidence_credential  text constraint competencies_credential_length check (char_length(evidence_credential) <= 60),
  evidence_year        smallint
                       constraint competencies_year_range check (evidence_year between 1950 and 2100),
  training_hours       integer
                       constraint competencies_hours_range check (training_hours between 0 and 20000),
  expires_on           date,
  verification_status  text not null default 'self_attested'
                       check (verification_status in ('self_attested', 'verified', 'rejected')),
  verified_at          timestamptz,
  verification_note    text check (char_length(verification_note) <= 500),
  created_at           timestamptz not null default now(),
  constraint competencies_one_per_modality unique (consultant_id, modality)
);
create index competencies_modality_level_idx on public.competencies (modality, level, consultant_id);
-- Scoring reads a candidate's competencies from the index alone.
create index competencies_consultant_cover_idx
  on public.competencies (consultant_id) include (modality, level, verification_status, expires_on);
create index competencies_unverified_idx on public.competencies (created_at)
  where verification_status = 'self_attested';

alter table public.licenses add column verification_note text
  check (char_length(verification_note) <= 500);
create index licenses_unverified_idx on public.licenses (created_at)
  where verification_status = 'self_attested';

alter table public.competencies enable row level security;
revoke all on public.competencies from public, anon, authenticated;
grant select, insert, delete on public.competencies to authenticated;
grant update (modality, level, evidence_body, evidence_credential, evidence_year, training_hours, expires_on,
              verification_status, verified_at)
  on public.competencies to authenticated;
grant all on public.competencies to service_role;

create policy "competencies visible with their profile" on public.competencies
  for select to authenticated
  using (exists (select 1 from public.profiles p where p.id = consultant_id));
create policy "members add own competencies" on public.competencies
  for insert to authenticated
  with check (consultant_id = (select auth.uid()) and verification_status = 'self_attested');
create policy "members change own competencies" on public.competencies
  for update to authenticated
  using (consultant_id = (select auth.uid()))
  with check (consultant_id = (select auth.uid()) and verification_status = 'self_attested');
create policy "members remove own competencies" on public.competencies
  for delete to authenticated
  using (consultant_id = (select auth.uid()));

create function private.competencies_reset_verification()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.modality, new.level, new.evidence_body, new.evidence_credential, new.evidence_year,
      new.training_hours, new.expires_on)
     is distinct from (old.modality, old.level, old.evidence_body, old.evidence_credential, old.evidence_year,
      old.training_hours, old.expires_on) then
    new.verification_status := 'self_attested';
    new.verified_at := null;
    new.verification_note := null;
  end if;
  return new;
end;
$$;
create trigger competencies_reset_verification
  before update on public.competencies
  for each row execute function private.competencies_reset_verification();

-- ---------------------------------------------------------------------------
-- Intake settings and weekly hours (the availability page builds on these)
-- ---------------------------------------------------------------------------
create table public.availability_settings (
  consultant_id          uuid primary key references public.profiles (id) on delete cascade,
  accepting_new_clients  boolean not null default true,
  capacity               smallint not null default 8
                         constraint availability_capacity_range check (capacity between 0 and 60),
  session_minutes        smallint not null default 50 check (session_minutes between 15 and 180),
  buffer_minutes         smallint not null default 10 check (buffer_minutes between 0 and 120),
  min_notice_hours       smallint not null default 24 check (min_notice_hours between 0 and 720),
  max_sessions_per_week  smallint check (max_sessions_per_week between 1 and 80),
  late_cancel_hours      smallint not null default 24 check (late_cancel_hours between 0 and 168),
  -- Which of the seeker's preferred-time buckets the weekly hours touch, in the
  -- consultant's zone: 1 weekday mornings, 2 afternoons, 4 evenings, 8 weekends.
  time_buckets           smallint not null default 0,
  -- Maintained by the engagement triggers; never shown to others, only "has room".
  active_clients         smallint not null default 0 check (active_clients >= 0),
  version                integer not null default 1,
  updated_at             timestamptz not null default now()
);

-- Every member has intake settings from the start (defaults until they change them).
create function private.profiles_create_settings()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.availability_settings (consultant_id) values (new.id) on conflict do nothing;
  return null;
end;
$$;
revoke all on function private.profiles_create_settings() from public, anon, authenticated;
create trigger profiles_create_settings
  after insert on public.profiles
  for each row execute function private.profiles_create_settings();
insert into public.availability_settings (consultant_id) select id from public.profiles on conflict do nothing;

create table public.weekly_hours (
  id             uuid primary key default gen_random_uuid(),
  consultant_id  uuid not null references public.profiles (id) on delete cascade,
  weekday        smallint not null check (weekday between 1 and 7),  -- ISO: 1 Monday .. 7 Sunday
  starts_at      time not null,
  ends_at        time not null,
  constraint weekly_hours_order check (ends_at > starts_at)
);
create index weekly_hours_consultant_idx on public.weekly_hours (consultant_id, weekday);

alter table public.availability_settings enable row level security;
alter table public.weekly_hours enable row level security;
revoke all on public.availability_settings, public.weekly_hours from public, anon, authenticated;
grant select (consultant_id, accepting_new_clients, capacity, session_minutes, buffer_minutes, min_notice_hours,
              max_sessions_per_week, late_cancel_hours, time_buckets, version, updated_at)
  on public.availability_settings to authenticated;
grant insert (consultant_id, accepting_new_clients, capacity, session_minutes, buffer_minutes, min_notice_hours,
              max_sessions_per_week, late_cancel_hours)
  on public.availability_settings to authenticated;
grant update (accepting_new_clients, capacity, session_minutes, buffer_minutes, min_notice_hours,
              max_sessions_per_week, late_cancel_hours, version, updated_at)
  on public.availability_settings to authenticated;
grant select, insert, update, delete on public.weekly_hours to authenticated;
grant all on public.availability_settings, public.weekly_hours to service_role;

create policy "settings visible with the profile" on public.availability_settings
  for select to authenticated using (exists (select 1 from public.profiles p where p.id = consultant_id));
create policy "consultants create own settings" on public.availability_settings
  for insert to authenticated with check (consultant_id = (select auth.uid()));
create policy "consultants change own settings" on public.availability_settings
  for update to authenticated using (consultant_id = (select auth.uid()))
  with check (consultant_id = (select auth.uid()));
create policy "hours visible with the profile" on public.weekly_hours
  for select to authenticated using (exists (select 1 from public.profiles p where p.id = consultant_id));
create policy "consultants manage own hours" on public.weekly_hours
  for all to authenticated using (consultant_id = (select auth.uid()))
  with check (consultant_id = (select auth.uid()));

create function private.refresh_time_buckets()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  who uuid := coalesce(new.consultant_id, old.consultant_id);
begin
  insert into public.availability_settings (consultant_id) values (who) on conflict do nothing;
  update public.availability_settings s set time_buckets = coalesce((
    select bit_or(
      case when h.weekday >= 6 then 8 else 0 end
      | case when h.weekday <= 5 and h.starts_at < time '12:00' then 1 else 0 end
      | case when h.weekday <= 5 and h.starts_at < time '17:00' and h.ends_at > time '12:00' then 2 else 0 end
      | case when h.weekday <= 5 and h.ends_at > time '17:00' then 4 else 0 end)
    from public.weekly_hours h where h.consultant_id = who), 0)
  where s.consultant_id = who;
  return null;
end;
$$;
revoke all on function private.refresh_time_buckets() from public, anon, authenticated;
create trigger weekly_hours_refresh_buckets
  after insert or update or delete on public.weekly_hours
  for each row execute function private.refresh_time_buckets();

-- ---------------------------------------------------------------------------
-- Consultation requests and engagements
-- ---------------------------------------------------------------------------
create table public.consultation_requests (
  id              uuid primary key default gen_random_uuid(),
  seeker_id       uuid not null references public.profiles (id) on delete cascade,
  consultant_id   uuid not null references public.profiles (id) on delete cascade,
  modalities      text[] not null default '{}',
  message         text not null
                  constraint requests_message_length check (char_length(btrim(message)) between 1 and 1500),
  status          text not null default 'pending'
                  check (status in ('pending', 'accepted', 'declined', 'withdrawn')),
  decline_reason  text constraint requests_reason_length check (char_length(decline_reason) <= 500),
  created_at      timestamptz not null default now(),
  responded_at    timestamptz,
  constraint requests_not_self check (seeker_id <> consultant_id),
  constraint requests_declined_have_reason
    check (status <> 'declined' or char_length(btrim(coalesce(decline_reason, ''))) > 0)
);
-- One open request per pair at a time.
create unique index requests_one_pending_per_pair on public.consultation_requests (seeker_id, consultant_id)
  where status = 'pending';
create index requests_consultant_idx on public.consultation_requests (consultant_id, status, created_at desc);
create index requests_seeker_idx on public.consultation_requests (seeker_id, created_at desc);

create table public.engagements (
  id             uuid primary key default gen_random_uuid(),
  request_id     uuid not null unique references public.consultation_requests (id) on delete cascade,
  seeker_id      uuid not null references public.profiles (id) on delete cascade,
  consultant_id  uuid not null references public.profiles (id) on delete cascade,
  status         text not null default 'active' check (status in ('active', 'ended')),
  started_at     timestamptz not null default now(),
  ended_at       timestamptz
);
create unique index engagements_one_active_per_pair on public.engagements (seeker_id, consultant_id)
  where status = 'active';
create index engagements_consultant_idx on public.engagements (consultant_id, status);
create index engagements_seeker_idx on public.engagements (seeker_id, status);

alter table public.consultation_requests enable row level security;
alter table public.engagements enable row level security;
revoke all on public.consultation_requests, public.engagements from public, anon, authenticated;
-- Members read the requests and engagements they are party to; changes go through functions.
grant select on public.consultation_requests, public.engagements to authenticated;
grant all on public.consultation_requests, public.engagements to service_role;
create policy "parties read their requests" on public.consultation_requests
  for select to authenticated
  using ((select auth.uid()) in (seeker_id, consultant_id));
create policy "parties read their engagements" on public.engagements
  for select to authenticated
  using ((select auth.uid()) in (seeker_id, consultant_id));

-- A consultant sees the profile of whoever asked them for consultation.
create policy "consultants read profiles of those who asked them" on public.profiles
  for select to authenticated
  using (exists (select 1 from public.consultation_requests r
                 where r.seeker_id = profiles.id and r.consultant_id = (select auth.uid())));

create function private.count_active_clients()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.availability_settings (consultant_id)
  values (coalesce(new.consultant_id, old.consultant_id)) on conflict do nothing;
  update public.availability_settings s
  set active_clients = (select count(*) from public.engagements e
                        where e.consultant_id = s.consultant_id and e.status = 'active')
  where s.consultant_id = coalesce(new.consultant_id, old.consultant_id);
  return null;
end;
$$;
revoke all on function private.count_active_clients() from public, anon, authenticated;
create trigger engagements_count_active
  after insert or update of status or delete on public.engagements
  for each row execute function private.count_active_clients();

-- ---------------------------------------------------------------------------
-- The conflict-screening seam. Search, profiles and requests ask only this
-- function, naming the context they screen in (null: do not log). Until the
-- screening issue lands it finds no conflicts; that migration replaces its
-- body (real screening, and a log entry per call) and nothing else changes.
-- ---------------------------------------------------------------------------
create function public.screen_candidates(p_seeker uuid, p_consultants uuid[], p_context text default null)
returns table (consultant_id uuid, level text)
language sql
volatile
security definer
set search_path = ''
as $$
  select c, 'none'::text from unnest(p_consultants) c
$$;
revoke all on function public.screen_candidates(uuid, uuid[], text) from public, anon, authenticated, service_role;

-- Whether a consultant can be asked now: consultant, accepting, and with room.
create function public.consultant_can_take_requests(p_consultant uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.profiles p
    join public.availability_settings s on s.consultant_id = p.id
    where p.id = p_consultant and p.is_consultant
      and s.accepting_new_clients and s.active_clients < s.capacity)
$$;
revoke all on function public.consultant_can_take_requests(uuid) from public, anon;
grant execute on function public.consultant_can_take_requests(uuid) to authenticated;

-- How many clients a consultant has taken on through the portal (all of them
-- clinicians): the "experience treating clinicians" part of the search score.
alter table public.availability_settings add column clients_served integer not null default 0;

create or replace function private.count_active_clients()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.availability_settings (consultant_id)
  values (coalesce(new.consultant_id, old.consultant_id)) on conflict do nothing;
  update public.availability_settings s
  set active_clients = (select count(*) from public.engagements e
                        where e.consultant_id = s.consultant_id and e.status = 'active'),
      clients_served = (select count(*) from public.engagements e where e.consultant_id = s.consultant_id)
  where s.consultant_id = coalesce(new.consultant_id, old.consultant_id);
  return null;
end;
$$;

-- ---------------------------------------------------------------------------
-- Search. Score (0-100), documented in portal/search.py and the README:
--   modality fit  40  per wanted modality: level x 7.5 (+10 when verified and unexpired), averaged
--   availability  20  10 for room to take a new client + 10 x share of preferred times covered
--   experience    20  15 x min(years, 25)/25 + 5 x min(clients served here, 5)/5
--   language      10  first wanted language 10, another wanted one 5 (no filter: shares one 10)
--   fee           10  within max: 5 + 5 x (1 - fee/max); over max on a sliding scale: 3;
--                     no max: 10 x (1 - min(fee, 300)/300), +2 for a sliding scale, capped at 10
-- Ties: score, then name, then id. SECURITY DEFINER: it reads capacity counts and
-- screens conflicts across users; it returns only public consultant fields.
-- ---------------------------------------------------------------------------
create function public.search_consultants(
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
volatile  -- it writes the screening log
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
  ids uuid[];
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
  select p.languages into my_langs from public.profiles p where p.id = me;

  -- Narrow with indexes first: licensed here (unexpired), then competent in every wanted modality.
  select array_agg(l.profile_id) into ids
  from public.licenses l
  where l.jurisdiction = p_jurisdiction and l.expires_on >= current_date and l.profile_id <> me;
  if cardinality(wanted) > 0 then
    -- Driven by the wanted modalities (competencies_modality_level_idx), then joined to the
    -- licensed ids: no `consultant_id = any (ids)` filter, which a cached generic plan checks
    -- linearly against thousands of ids for every competency it reads.
    select array_agg(sub.consultant_id) into ids from (
      select c.consultant_id
      from public.competencies c
      where c.modality = any (wanted) and c.level >= min_level
      group by c.consultant_id
      having count(*) = cardinality(wanted)) sub
    join unnest(ids) as licensed(id) on licensed.id = sub.consultant_id;
  end if;

  with filtered as (
    select p.id, p.display_name, p.pronouns, p.languages, p.fee_usd, p.sliding_scale, p.offers_telehealth,
           p.offers_in_person, p.city, p.years_in_practice, p.timezone, s.accepting_new_clients,
           s.active_clients < s.capacity as has_room, s.time_buckets, s.clients_served
    from public.profiles p
    join public.availability_settings s on s.consultant_id = p.id
    where p.id = any (ids) and p.is_consultant
      and (coalesce(p_format, 'any') = 'any'
           or (p_format = 'telehealth' and p.offers_telehealth)
           or (p_format = 'in_person' and p.offers_in_person and (want_city is null or lower(p.city) = want_city)))
      and (cardinality(langs) = 0 or p.languages && langs)
      and (p_max_fee is null or p.fee_usd <= p_max_fee or (coalesce(p_sliding_ok, false) and p.sliding_scale))
      and (not coalesce(p_accepting_only, true) or (s.accepting_new_clients and s.active_clients < s.capacity))
      and (times = 0 or s.time_buckets & times <> 0)
  ),
  screened as (
    select f.*, sc.level as conflict
    from filtered f
    join public.screen_candidates(me, (select array_agg(id) from filtered), 'search') sc
      on sc.consultant_id = f.id
    where sc.level <> 'blocking'
  ),
  -- Modality fit for every candidate in one grouped pass (index-only on the covering index);
  -- the per-competency JSON is built for the page only.
  fit as (
    select c.consultant_id,
           avg(c.level * 7.5::float8 + case when c.verification_status = 'verified'
                                            and (c.expires_on is null or c.expires_on >= current_date)
                                       then 10::float8 else 0::float8 end) as fit
    from screened s
    join public.competencies c on c.consultant_id = s.id
    where cardinality(wanted) = 0 or c.modality = any (wanted)
    group by c.consultant_id
  ),
  -- Scores in float8 (numeric arithmetic over thousands of candidates is several times slower);
  -- rounded to one decimal only for the page shown.
  scored as (
    select s.id, s.display_name, s.pronouns, s.languages, s.fee_usd, s.sliding_scale, s.offers_telehealth,
           s.offers_in_person, s.city, s.years_in_practice, s.timezone, s.conflict,
           s.accepting_new_clients and s.has_room as has_room,
           coalesce(m.fit, 0) as modality_score,
           (case when s.accepting_new_clients and s.has_room then 10 else 0 end
            + case when times = 0 then case when s.time_buckets <> 0 then 10 else 0 end
                   else 10::float8 * bit_count((s.time_buckets & times)::bit(4))
                        / bit_count(times::bit(4)) end)::float8 as availability_score,
           15::float8 * least(coalesce(s.years_in_practice, 0), 25) / 25
             + 5::float8 * least(s.clients_served, 5) / 5 as experience_score,
           (case when cardinality(langs) > 0 then
                   case when langs[1] = any (s.languages) then 10 when s.languages && langs then 5 else 0 end
                 when s.languages && coalesce(my_langs, '{en}') then 10 else 0 end)::float8 as language_score,
           case when p_max_fee is not null then
                  case when s.fee_usd <= p_max_fee
                       then 5 + 5 * (1 - s.fee_usd::float8 / greatest(p_max_fee, 1))
                       else 3::float8 end
                else least(10::float8, 10 * (1 - least(coalesce(s.fee_usd, 300), 300) / 300::float8)
                                       + case when s.sliding_scale then 2 else 0 end) end as fee_score
    from screened s
    left join fit m on m.consultant_id = s.id
  ),
  ranked as (
    -- Each part is rounded to one decimal (half away from zero, like numeric round()) before
    -- summing, so the breakdown shown adds up to the score.
    select sc.*,
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
                     'consultant_id', pg.id, 'display_name', pg.display_name, 'pronouns', pg.pronouns,
                     'languages', pg.languages, 'fee_usd', pg.fee_usd, 'sliding_scale', pg.sliding_scale,
                     'offers_telehealth', pg.offers_telehealth, 'offers_in_person', pg.offers_in_person,
                     'city', pg.city, 'years_in_practice', pg.years_in_practice, 'timezone', pg.timezone,
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
                   order by pg.score desc, pg.display_name, pg.id) from page pg), '[]')
  into total, result;

  return jsonb_build_object(
    'total', total,
    'results', result,
    'relax', case when total = 0 then public.search_relaxations(
      me, p_jurisdiction, wanted, min_level, p_format, want_city, langs, p_max_fee, p_sliding_ok, p_accepting_only, times)
    else '[]'::jsonb end);
end;
$$;

-- When a search finds nobody: for each filter, how many consultants it alone
-- kept out (they pass every other filter). Screened like the search itself, so
-- the counts never reveal a hidden blocking conflict.
create function public.search_relaxations(
  p_me uuid, p_jurisdiction text, p_modalities text[], p_min_level integer, p_format text, p_city text,
  p_languages text[], p_max_fee integer, p_sliding_ok boolean, p_accepting_only boolean, p_times integer)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  with licensed as (
    select l.profile_id from public.licenses l
    where l.jurisdiction = p_jurisdiction and l.expires_on >= current_date
  ),
  competent as (
    select c.consultant_id from public.competencies c
    where c.modality = any (p_modalities) and c.level >= p_min_level
    group by c.consultant_id
    having count(*) = cardinality(p_modalities)
  ),
  -- Competent in every wanted modality at some level: then only the minimum level kept them out.
  competent_any_level as (
    select c.consultant_id from public.competencies c
    where c.modality = any (p_modalities)
    group by c.consultant_id
    having count(*) = cardinality(p_modalities)
  ),
  flags as (
    select p.id,
      p.id in (select profile_id from licensed) as jurisdiction,
      (cardinality(p_modalities) = 0 or p.id in (select consultant_id from competent)) as modalities,
      (cardinality(p_modalities) = 0 or p.id in (select consultant_id from competent_any_level))
        as modalities_any_level,
      (coalesce(p_format, 'any') = 'any'
       or (p_format = 'telehealth' and p.offers_telehealth)
       or (p_format = 'in_person' and p.offers_in_person and (p_city is null or lower(p.city) = p_city)))
        as format,
      (cardinality(p_languages) = 0 or p.languages && p_languages) as languages,
      (p_max_fee is null or p.fee_usd <= p_max_fee or (coalesce(p_sliding_ok, false) and p.sliding_scale)) as fee,
      (not coalesce(p_accepting_only, true) or (s.accepting_new_clients and s.active_clients < s.capacity))
        as capacity,
      (coalesce(p_times, 0) = 0 or s.time_buckets & p_times <> 0) as times
    from public.profiles p
    join public.availability_settings s on s.consultant_id = p.id
    where p.is_consultant and p.id <> p_me
  ),
  near as (
    select * from flags
    where jurisdiction::int + modalities::int + format::int + languages::int + fee::int + capacity::int
          + times::int = 6
  ),
  screened as (
    select n.* from near n
    join public.screen_candidates(p_me, (select array_agg(id) from near), null) sc on sc.consultant_id = n.id
    where sc.level <> 'blocking'
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
revoke all on function public.search_relaxations(uuid, text, text[], integer, text, text, text[], integer, boolean,
                                                 boolean, integer) from public, anon, authenticated, service_role;
revoke all on function public.search_consultants(text, text[], integer, text, text, text[], integer, boolean, boolean,
                                                 integer, integer, integer) from public, anon;
grant execute on function public.search_consultants(text, text[], integer, text, text, text[], integer, boolean,
                                                    boolean, integer, integer, integer) to authenticated;

-- ---------------------------------------------------------------------------
-- A consultant's profile as a colleague sees it
-- ---------------------------------------------------------------------------
create function public.get_consultant_profile(p_consultant uuid)
returns jsonb
language plpgsql
volatile  -- viewing a profile screens for conflicts, and that is logged
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  doc jsonb;
begin
  if me is null then
    raise exception 'Sign in to see consultants.' using errcode = '42501';
  end if;
  select jsonb_build_object(
      'id', p.id, 'display_name', p.display_name, 'pronouns', p.pronouns, 'languages', p.languages,
      'offers_telehealth', p.offers_telehealth, 'offers_in_person', p.offers_in_person, 'city', p.city,
      'fee_usd', p.fee_usd, 'sliding_scale', p.sliding_scale, 'years_in_practice', p.years_in_practice,
      'timezone', p.timezone, 'bio', p.bio,
      'competencies', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'modality', c.modality, 'name', m.name, 'level', c.level,
                 'evidence_body', c.evidence_body, 'evidence_year', c.evidence_year,
                 'training_hours', c.training_hours,
                 'verified', c.verification_status = 'verified'
                             and (c.expires_on is null or c.expires_on >= current_date),
                 'verified_at', case when c.verification_status = 'verified' then c.verified_at end,
                 'expired', c.expires_on < current_date)
               order by c.level desc, m.name)
        from public.competencies c join public.modalities m on m.code = c.modality
        where c.consultant_id = p.id), '[]'),
      'licenses', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'jurisdiction', l.jurisdiction, 'license_type', l.license_type,
                 'license_number', l.license_number, 'expires_on', l.expires_on,
                 'verified', l.verification_status = 'verified' and l.expires_on >= current_date,
                 'expired', l.expires_on < current_date)
               order by l.jurisdiction)
        from public.licenses l where l.profile_id = p.id), '[]'),
      'availability', jsonb_build_object(
        'accepting_new_clients', s.accepting_new_clients,
        'has_room', s.accepting_new_clients and s.active_clients < s.capacity,
        'session_minutes', s.session_minutes,
        'time_buckets', s.time_buckets,
        'weekly_hours', coalesce((
          select jsonb_agg(jsonb_build_object('weekday', h.weekday, 'starts_at', h.starts_at, 'ends_at', h.ends_at)
                           order by h.weekday, h.starts_at)
          from public.weekly_hours h where h.consultant_id = p.id), '[]')),
      'conflict', (select sc.level from public.screen_candidates(me, array[p.id], 'profile') sc),
      'pending_request', exists (select 1 from public.consultation_requests r
                                 where r.seeker_id = me and r.consultant_id = p.id and r.status = 'pending'),
      'active_engagement', exists (select 1 from public.engagements e
                                   where e.seeker_id = me and e.consultant_id = p.id and e.status = 'active'))
  into doc
  from public.profiles p
  left join public.availability_settings s on s.consultant_id = p.id
  where p.id = p_consultant and p.is_consultant and p.id <> me;
  if doc is null or doc ->> 'conflict' = 'blocking' then
    -- A blocked consultant is indistinguishable from one who does not exist.
    raise exception 'This consultant is not available to you.' using errcode = 'P0002';
  end if;
  return doc;
end;
$$;
revoke all on function public.get_consultant_profile(uuid) from public, anon;
grant execute on function public.get_consultant_profile(uuid) to authenticated;

-- ---------------------------------------------------------------------------
-- Requests: ask, answer, and read one's own
-- ---------------------------------------------------------------------------
create function public.request_consultation(p_consultant uuid, p_modalities text[], p_message text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  conflict text;
  new_request public.consultation_requests;
begin
  if me is null then
    raise exception 'Sign in to request a consultation.' using errcode = '42501';
  end if;
  if p_consultant = me then
    raise exception 'You cannot request a consultation with yourself.' using detail = 'consultant';
  end if;
  if char_length(btrim(coalesce(p_message, ''))) = 0 then
    raise exception 'Write a short message to the consultant.' using detail = 'message';
  end if;
  if exists (select 1 from unnest(coalesce(p_modalities, '{}')) w
             where not exists (select 1 from public.modalities m where m.code = w)) then
    raise exception 'Unknown modality.' using detail = 'modalities', hint = 'Pick modalities from the list.';
  end if;
  select sc.level into conflict from public.screen_candidates(me, array[p_consultant], 'request') sc;
  if not exists (select 1 from public.profiles p where p.id = p_consultant and p.is_consultant)
     or conflict = 'blocking' then
    raise exception 'This consultant is not available to you.' using errcode = 'P0002';
  end if;
  if exists (select 1 from public.engagements e
             where e.seeker_id = me and e.consultant_id = p_consultant and e.status = 'active') then
    raise exception 'You already work with this consultant.' using detail = 'consultant';
  end if;
  -- Lock the consultant's intake row so capacity is read consistently with acceptances.
  perform 1 from public.availability_settings s where s.consultant_id = p_consultant for update;
  if not public.consultant_can_take_requests(p_consultant) then
    raise exception 'This consultant is not taking new clients right now.'
      using detail = 'capacity', hint = 'Search again for consultants with room.';
  end if;
  insert into public.consultation_requests (seeker_id, consultant_id, modalities, message)
  values (me, p_consultant, coalesce(p_modalities, '{}'), btrim(p_message))
  returning * into new_request;
  return to_jsonb(new_request) || jsonb_build_object('conflict', conflict);
exception when unique_violation then
  raise exception 'You already have a pending request with this consultant.'
    using detail = 'consultant', hint = 'Wait for their answer, or see it under Requests.';
end;
$$;
revoke all on function public.request_consultation(uuid, text[], text) from public, anon;
grant execute on function public.request_consultation(uuid, text[], text) to authenticated;

create function public.respond_to_request(p_request uuid, p_accept boolean, p_reason text default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  req public.consultation_requests;
  conflict text;
  settings public.availability_settings;
begin
  if me is null then
    raise exception 'Sign in to answer requests.' using errcode = '42501';
  end if;
  select * into req from public.consultation_requests r where r.id = p_request for update;
  if req.id is null or req.consultant_id <> me then
    raise exception 'No such request in your inbox.' using errcode = 'P0002';
  end if;
  if req.status <> 'pending' then
    raise exception 'This request was already answered (%).', req.status
      using detail = 'status', hint = 'Reload your inbox.';
  end if;
  if not p_accept then
    if char_length(btrim(coalesce(p_reason, ''))) = 0 then
      raise exception 'Give a reason when you decline, so your colleague can look elsewhere.'
        using detail = 'reason';
    end if;
    update public.consultation_requests
    set status = 'declined', decline_reason = btrim(p_reason), responded_at = now()
    where id = req.id returning * into req;
    return to_jsonb(req);
  end if;

  select sc.level into conflict from public.screen_candidates(req.seeker_id, array[me], 'accept') sc;
  if conflict = 'blocking' then
    raise exception 'A conflict that cannot be waived was found since this request was sent.'
      using detail = 'conflict', hint = 'Decline the request with a reason; the seeker will be told.';
  end if;
  if conflict = 'potential' then
    raise exception 'A possible dual relationship was found between you two.'
      using detail = 'conflict',
            hint = 'Discuss it, and both sign a waiver with your reasons (Check for conflicts), before accepting.';
  end if;
  select * into settings from public.availability_settings s where s.consultant_id = me for update;
  if settings.consultant_id is null or settings.active_clients >= settings.capacity then
    raise exception 'You are at capacity.'
      using detail = 'capacity', hint = 'Raise your capacity on My profile, or decline with a reason.';
  end if;
  update public.consultation_requests
  set status = 'accepted', responded_at = now(), decline_reason = null
  where id = req.id returning * into req;
  insert into public.engagements (request_id, seeker_id, consultant_id)
  values (req.id, req.seeker_id, req.consultant_id);
  return to_jsonb(req);
end;
$$;
revoke all on function public.respond_to_request(uuid, boolean, text) from public, anon;
grant execute on function public.respond_to_request(uuid, boolean, text) to authenticated;

create function public.my_requests()
returns table (id uuid, direction text, other_id uuid, other_name text, modalities text[], message text,
               status text, decline_reason text, created_at timestamptz, responded_at timestamptz)
language sql
stable
set search_path = ''
as $$
  select r.id,
         case when r.seeker_id = auth.uid() then 'sent' else 'received' end,
         case when r.seeker_id = auth.uid() then r.consultant_id else r.seeker_id end,
         p.display_name, r.modalities, r.message, r.status, r.decline_reason, r.created_at, r.responded_at
  from public.consultation_requests r
  join public.profiles p on p.id = case when r.seeker_id = auth.uid() then r.consultant_id else r.seeker_id end
  where auth.uid() in (r.seeker_id, r.consultant_id)
  order by (r.status = 'pending') desc, r.created_at desc, r.id
$$;
revoke all on function public.my_requests() from public, anon;
grant execute on function public.my_requests() to authenticated;

-- ---------------------------------------------------------------------------
-- Consultant's own competencies and intake settings
-- ---------------------------------------------------------------------------
create function public.get_my_practice()
returns jsonb
language sql
stable
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
revoke all on function public.get_my_practice() from public, anon;
grant execute on function public.get_my_practice() to authenticated;

create function public.save_my_practice(p_competencies jsonb, p_accepting boolean, p_capacity integer,
                                        p_expected_version integer)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  row_doc jsonb;
  kept text[] := '{}';
begin
  if me is null then
    raise exception 'Sign in to change your practice.' using errcode = '42501';
  end if;
  if jsonb_typeof(coalesce(p_competencies, '[]')) <> 'array' then
    raise exception 'Competencies must be a JSON array.' using errcode = '22023';
  end if;
  update public.availability_settings s
  set accepting_new_clients = coalesce(p_accepting, true), capacity = p_capacity,
      version = s.version + 1, updated_at = now()
  where s.consultant_id = me and s.version = p_expected_version;
  if not found then
    raise exception 'Your practice settings were changed elsewhere since this form was opened.'
      using detail = 'version',
            hint = 'Nothing was saved. Reload the latest version, then apply your changes again.';
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
revoke all on function public.save_my_practice(jsonb, boolean, integer, integer) from public, anon;
grant execute on function public.save_my_practice(jsonb, boolean, integer, integer) to authenticated;

create function public.list_modalities()
returns setof public.modalities
language sql
stable
set search_path = ''
as $$
  select * from public.modalities order by name
$$;
revoke all on function public.list_modalities() from public, anon;
grant execute on function public.list_modalities() to authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Admin: extend the modality list; the verification queue
-- ---------------------------------------------------------------------------
grant insert (code, name, description) on public.modalities to authenticated;
create policy "admins add modalities" on public.modalities
  for insert to authenticated with check ((select public.is_admin()));

create function public.admin_add_modality(p_code text, p_name text, p_description text default null)
returns public.modalities
language plpgsql
volatile
set search_path = ''
as $$
declare
  added public.modalities;
begin
  if not public.is_admin() then
    raise exception 'Only administrators can add modalities.' using errcode = '42501';
  end if;
  insert into public.modalities (code, name, description)
  values (lower(btrim(p_code)), btrim(p_name), nullif(btrim(p_description), ''))
  returning * into added;
  return added;
end;
$$;
revoke all on function public.admin_add_modality(text, text, text) from public, anon;
grant execute on function public.admin_add_modality(text, text, text) to authenticated;

create function public.admin_verification_queue(p_limit integer default 50)
returns table (kind text, id uuid, member_id uuid, member_name text, item text, detail text,
               expires_on date, submitted_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not public.is_admin() then
    raise exception 'Only administrators can see the verification queue.' using errcode = '42501';
  end if;
  return query
    select * from (
      select 'competency'::text, c.id, p.id, p.display_name, m.name || ' level ' || c.level,
             concat_ws(', ', c.evidence_body, c.evidence_credential, c.evidence_year::text,
                       c.training_hours::text || ' h'),
             c.expires_on, c.created_at
      from public.competencies c
      join public.profiles p on p.id = c.consultant_id
      join public.modalities m on m.code = c.modality
      where c.verification_status = 'self_attested'
      union all
      select 'license', l.id, p.id, p.display_name, l.license_type || ' in ' || l.jurisdiction,
             l.license_number, l.expires_on, l.created_at
      from public.licenses l
      join public.profiles p on p.id = l.profile_id
      where l.verification_status = 'self_attested'
    ) q
    order by 8, 2
    limit least(greatest(coalesce(p_limit, 50), 1), 500);
end;
$$;

create function public.admin_verify_credential(p_kind text, p_id uuid, p_approve boolean, p_note text default null)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  new_status text := case when p_approve then 'verified' else 'rejected' end;
begin
  if not public.is_admin() then
    raise exception 'Only administrators can verify credentials.' using errcode = '42501';
  end if;
  if not p_approve and char_length(btrim(coalesce(p_note, ''))) = 0 then
    raise exception 'Write a note saying why the credential is rejected.' using detail = 'note';
  end if;
  if p_kind = 'competency' then
    update public.competencies
    set verification_status = new_status, verified_at = case when p_approve then now() end,
        verification_note = nullif(btrim(p_note), '')
    where id = p_id;
  elsif p_kind = 'license' then
    update public.licenses
    set verification_status = new_status, verified_at = case when p_approve then now() end,
        verification_note = nullif(btrim(p_note), '')
    where id = p_id;
  else
    raise exception 'Unknown credential kind %.', p_kind using detail = 'kind';
  end if;
  if not found then
    raise exception 'That credential no longer exists.' using errcode = 'P0002';
  end if;
end;
$$;
revoke all on function public.admin_verification_queue(integer),
                       public.admin_verify_credential(text, uuid, boolean, text) from public, anon;
grant execute on function public.admin_verification_queue(integer),
                          public.admin_verify_credential(text, uuid, boolean, text) to authenticated;

