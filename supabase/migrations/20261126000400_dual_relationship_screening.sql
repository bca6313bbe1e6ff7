-- Dual-relationship screening: private declarations (affiliations and
-- relationships), rules as data, set-based screening with per-party
-- disclosure, two-party waivers, and an append-only log of every screening.

-- ---------------------------------------------------------------------------
-- Declarations: only the declarer ever reads or changes them
-- ---------------------------------------------------------------------------
-- "St. Mary's Hospital" and "Saint Marys hospital" both become "st marys hospital".
create function public.normalise_organisation(p_name text)
returns text
language sql
immutable
set search_path = ''
as $$
  select btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
           lower(translate(coalesce(p_name, ''),
                           'ÀÁÂÃÄÅàáâãäåÈÉÊËèéêëÌÍÎÏìíîïÒÓÔÕÖòóôõöÙÚÛÜùúûüÇçÑñ',
                           'AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuCcNn')),
           '[''’.,&()-]', '', 'g'),                 -- punctuation goes
           '\m(saint|ste?)\M', 'st', 'g'),          -- saint / st / ste -> st
           '\m(the|of|inc|llc|ltd|pllc|pc)\M', ' ', 'g'), -- filler words
           '\s+', ' ', 'g'))
$$;
revoke all on function public.normalise_organisation(text) from public, anon;
grant execute on function public.normalise_organisation(text) to authenticated, service_role;

create table public.affiliations (
  id                uuid primary key default gen_random_uuid(),
  member_id         uuid not null references public.profiles (id) on delete cascade,
  organisation      text not null
                    constraint affiliations_organisation_length check (char_length(btrim(organisation)) between 2 and 120),
  organisation_key  text generated always as (public.normalise_organisation(organisation)) stored,
  email_domain      text
                    constraint affiliations_domain_format
                    check (email_domain ~ '^[a-z0-9-]+(\.[a-z0-9-]+)+$'),
  kind              text not null check (kind in ('practice', 'agency', 'hospital', 'university',
                                                  'training_programme', 'board', 'association')),
  role              text constraint affiliations_role_length check (char_length(role) <= 80),
  starts_on         date,
  ends_on           date,
  created_at        timestamptz not null default now(),
  constraint affiliations_dates check (ends_on is null or starts_on is null or ends_on >= starts_on)
);
create index affiliations_member_idx on public.affiliations (member_id);
create index affiliations_key_idx on public.affiliations (organisation_key, member_id);
create index affiliations_domain_idx on public.affiliations (email_domain, member_id) where email_domain is not null;

create table public.declared_relationships (
  id                 uuid primary key default gen_random_uuid(),
  declarer_id        uuid not null references public.profiles (id) on delete cascade,
  counterpart_id     uuid references public.profiles (id) on delete set null,
  counterpart_name   text constraint relationships_name_length check (char_length(counterpart_name) <= 120),
  counterpart_email  text constraint relationships_email_format
                     check (counterpart_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  kind               text not null,
  starts_on          date,
  ends_on            date,
  created_at         timestamptz not null default now(),
  constraint relationships_names_someone
    check (counterpart_id is not null or char_length(btrim(coalesce(counterpart_name, ''))) > 0),
  constraint relationships_not_self check (counterpart_id is distinct from declarer_id),
  constraint relationships_dates check (ends_on is null or starts_on is null or ends_on >= starts_on)
);
create index relationships_declarer_idx on public.declared_relationships (declarer_id);
create index relationships_counterpart_idx on public.declared_relationships (counterpart_id);
create index relationships_email_idx on public.declared_relationships (lower(counterpart_email));

alter table public.affiliations enable row level security;
alter table public.declared_relationships enable row level security;
revoke all on public.affiliations, public.declared_relationships from public, anon, authenticated;
grant select, insert, update, delete on public.affiliations, public.declared_relationships to authenticated;
grant all on public.affiliations, public.declared_relationships to service_role;
create policy "only the declarer reads and writes affiliations" on public.affiliations
  for all to authenticated
  using (member_id = (select auth.uid())) with check (member_id = (select auth.uid()));
create policy "only the declarer reads and writes relationships" on public.declared_relationships
  for all to authenticated
  using (declarer_id = (select auth.uid())) with check (declarer_id = (select auth.uid()));

-- ---------------------------------------------------------------------------
-- Rules are data. window_years: null = ever, 0 = only while current.
-- ---------------------------------------------------------------------------
create table public.conflict_rules (
  kind          text primary key,
  label         text not null,
  severity      text not null check (severity in ('blocking', 'potential')),
  window_years  smallint check (window_years between 0 and 50),
  waivable      boolean not null,
  derived       boolean not null default false,  -- computed by the portal, not declared
  constraint conflict_rules_blocking_never_waivable check (severity = 'potential' or not waivable)
);
alter table public.conflict_rules enable row level security;
revoke all on public.conflict_rules from public, anon, authenticated;
grant select on public.conflict_rules to authenticated;
grant all on public.conflict_rules to service_role;
create policy "members read the rules" on public.conflict_rules for select to authenticated using (true);

insert into public.conflict_rules (kind, label, severity, window_years, waivable, derived) values
  ('supervisor',        'is or was my clinical supervisor',          'blocking', 2,    false, false),
  ('supervisee',        'is or was my supervisee',                   'blocking', 2,    false, false),
  ('evaluator',         'evaluates or evaluated me (e.g. licensure, training)', 'blocking', 2, false, false),
  ('evaluatee',         'I evaluate or evaluated them',              'blocking', 2,    false, false),
  ('employer',          'is or was my employer',                     'blocking', 2,    false, false),
  ('employee',          'is or was my employee',                     'blocking', 2,    false, false),
  ('family',            'is family',                                 'blocking', null, false, false),
  ('romantic',          'is my partner',                             'blocking', null, false, false),
  ('former_romantic',   'is a former partner',                       'blocking', null, false, false),
  ('business_partner',  'is my business partner',                    'blocking', 0,    false, false),
  ('former_client',     'is or was my client',                       'blocking', null, false, false),
  ('former_therapist',  'is or was my therapist',                    'blocking', null, false, false),
  ('colleague',         'is or was a colleague',                     'potential', 2,   true,  false),
  ('friend',            'is or was a friend',                        'potential', 2,   true,  false),
  ('training_cohort',   'was in my training cohort',                 'potential', 3,   true,  false),
  ('referral_partner',  'is a referral partner',                     'potential', 2,   true,  false),
  ('committee_board',   'serves or served with me on a committee or board', 'potential', 1, true, false),
  ('shared_practice',   'same practice, agency or hospital',         'potential', 2,   true,  true),
  ('shared_training',   'same university or training programme',     'potential', 3,   true,  true),
  ('shared_board',      'same professional board',                   'potential', 1,   true,  true),
  ('indirect_tie',      'one treats someone close to the other',     'potential', 0,   true,  true);

alter table public.declared_relationships
  add constraint relationships_kind_known foreign key (kind) references public.conflict_rules (kind);

-- Append-only audit of sensitive actions (rule changes, waivers).
create table public.audit_log (
  id          bigint generated always as identity primary key,
  actor_id    uuid,
  action      text not null,
  detail      jsonb not null default '{}',
  created_at  timestamptz not null default now()
);
alter table public.audit_log enable row level security;
revoke all on public.audit_log from public, anon, authenticated, service_role;
grant select, insert on public.audit_log to service_role;

-- Every screening: who asked, about whom, when, the level; never the reasons.
create table public.screening_log (
  id           bigint generated always as identity primary key,
  checked_by   uuid,
  seeker_id    uuid not null,
  consultant_id uuid,          -- null for a search's batch pre-screen
  context      text not null check (context in ('search', 'profile', 'request', 'accept', 'on_demand')),
  level        text not null check (level in ('none', 'waived', 'potential', 'blocking')),
  screened     integer not null default 1,
  flagged      integer not null default 0,
  created_at   timestamptz not null default now()
);
create index screening_log_seeker_idx on public.screening_log (seeker_id, created_at desc);
create index screening_log_consultant_idx on public.screening_log (consultant_id, created_at desc);
alter table public.screening_log enable row level security;
revoke all on public.screening_log from public, anon, authenticated, service_role;
grant select, insert on public.screening_log to service_role;

-- Supabase grants new sequences to the API roles; identity inserts need no sequence privilege.
revoke all on sequence public.audit_log_id_seq, public.screening_log_id_seq from public, anon, authenticated;

create function private.refuse_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'This log is append-only.' using errcode = '42501';
end;
$$;
create trigger audit_log_append_only before update or delete on public.audit_log
  for each statement execute function private.refuse_changes();
create trigger screening_log_append_only before update or delete on public.screening_log
  for each statement execute function private.refuse_changes();

-- Waivers of potential conflicts: both parties sign the same set of reasons.
create table public.conflict_waivers (
  id                    uuid primary key default gen_random_uuid(),
  seeker_id             uuid not null references public.profiles (id) on delete cascade,
  consultant_id         uuid not null references public.profiles (id) on delete cascade,
  fingerprint           text not null,
  seeker_rationale      text constraint waivers_seeker_rationale check (char_length(btrim(seeker_rationale)) between 20 and 2000),
  seeker_signed_at      timestamptz,
  consultant_rationale  text constraint waivers_consultant_rationale check (char_length(btrim(consultant_rationale)) between 20 and 2000),
  consultant_signed_at  timestamptz,
  created_at            timestamptz not null default now(),
  constraint waivers_one_per_fingerprint unique (seeker_id, consultant_id, fingerprint)
);
alter table public.conflict_waivers enable row level security;
revoke all on public.conflict_waivers from public, anon, authenticated;
grant select on public.conflict_waivers to authenticated;
grant all on public.conflict_waivers to service_role;
create policy "parties read their waivers" on public.conflict_waivers for select to authenticated
  using ((select auth.uid()) in (seeker_id, consultant_id));

-- ---------------------------------------------------------------------------
-- The screening itself. For each (seeker, consultant) pair, every reason with
-- who entered the data it is drawn from. Driven from the seeker's side through
-- indexes, so its cost grows with the candidates, not with their square. Private: callers are the definer
-- functions below, which decide what each party may see.
-- ---------------------------------------------------------------------------
create function private.within_window(p_ends_on date, p_window smallint)
returns boolean
language sql
stable
set search_path = ''
as $$
  select case
    when p_window is null then true
    when p_ends_on is null then true
    when p_window = 0 then p_ends_on >= current_date
    else p_ends_on >= (current_date - make_interval(years => p_window))::date
  end
$$;

create function private.conflict_reasons(p_seeker uuid, p_consultants uuid[])
returns table (consultant_id uuid, kind text, severity text, waivable boolean, entered_by uuid,
               reason_key text, detail jsonb)
language sql
stable
security definer
set search_path = ''
as $$
  with seeker_email as (
    select lower(c.email) as email from private.credentials c where c.user_id = p_seeker
  ),
  -- Declarations in either direction between the seeker and a candidate: (candidate, declaration).
  pairs as (
    select d.counterpart_id as consultant_id, d.id
    from public.declared_relationships d
    where d.declarer_id = p_seeker and d.counterpart_id = any (p_consultants)
    union
    select c.user_id, d.id
    from public.declared_relationships d
    join private.credentials c on lower(c.email) = lower(d.counterpart_email)
    where d.declarer_id = p_seeker and c.user_id = any (p_consultants)
    union
    select d.declarer_id, d.id
    from public.declared_relationships d
    where (d.counterpart_id = p_seeker or lower(d.counterpart_email) = (select email from seeker_email))
      and d.declarer_id = any (p_consultants)
  ),
  declared as (
    select x as consultant_id, d.*
    from unnest(p_consultants) x
    join pairs pr on pr.consultant_id = x
    join public.declared_relationships d on d.id = pr.id
  ),
  mine as materialized (
    select a.* from public.affiliations a
    where a.member_id = p_seeker and a.kind <> 'association'
  ),
  same_org as materialized (
    select m.id as seeker_aff, b.id as consultant_aff, b.member_id
    from mine m join public.affiliations b on b.organisation_key = m.organisation_key
    where b.kind <> 'association'
    union
    select m.id, b.id, b.member_id
    from mine m join public.affiliations b on b.email_domain = m.email_domain
    where m.email_domain is not null and b.kind <> 'association'
  ),
  shared as (
    select b.member_id as consultant_id, a.kind as seeker_kind, b.kind as consultant_kind, a.id as seeker_aff,
           b.id as consultant_aff,
           case when a.kind in ('practice', 'agency', 'hospital') then 'shared_practice'
                when a.kind in ('university', 'training_programme') then 'shared_training'
                else 'shared_board' end as rule_kind,
           least(coalesce(a.ends_on, 'infinity'::date), coalesce(b.ends_on, 'infinity'::date)) as overlap_ends,
           greatest(coalesce(a.starts_on, '-infinity'::date), coalesce(b.starts_on, '-infinity'::date))
             as overlap_starts
    from same_org so
    join mine a on a.id = so.seeker_aff
    join public.affiliations b on b.id = so.consultant_aff
    where so.member_id = any (p_consultants)
  ),
  seeker_close as (
    -- People the seeker declared as close: family, partner, supervisee, colleague.
    select coalesce(d.counterpart_id, (
             select c.user_id from private.credentials c where lower(c.email) = lower(d.counterpart_email))) as person
    from public.declared_relationships d
    where d.declarer_id = p_seeker
      and d.kind in ('family', 'romantic', 'supervisee', 'colleague')
      and private.within_window(d.ends_on, 2::smallint)
  ),
  seeker_clients as (
    -- People the seeker currently treats.
    select e.seeker_id as person, lower(c.email) as email
    from public.engagements e
    left join private.credentials c on c.user_id = e.seeker_id
    where e.consultant_id = p_seeker and e.status = 'active'
  ),
  indirect as (
    -- A candidate currently treats someone the seeker declared as close ...
    select e.consultant_id, p_seeker as entered_by, e.seeker_id as person
    from seeker_close cp
    join public.engagements e on e.seeker_id = cp.person and e.status = 'active'
    where e.consultant_id = any (p_consultants)
    union all
    -- ... or the seeker currently treats someone a candidate declared as close.
    select d.declarer_id, d.declarer_id, sc.person
    from seeker_clients sc
    join public.declared_relationships d
      on d.counterpart_id = sc.person or (d.counterpart_id is null and lower(d.counterpart_email) = sc.email)
    where d.declarer_id = any (p_consultants)
      and d.kind in ('family', 'romantic', 'supervisee', 'colleague')
      and private.within_window(d.ends_on, 2::smallint)
  )
  select d.consultant_id, r.kind, r.severity, r.waivable, d.declarer_id,
         'declared:' || d.id,
         jsonb_build_object('kind', d.kind, 'label', r.label, 'starts_on', d.starts_on, 'ends_on', d.ends_on,
                            'counterpart', coalesce(d.counterpart_name, d.counterpart_email))
  from declared d
  join public.conflict_rules r on r.kind = d.kind
  where private.within_window(d.ends_on, r.window_years)
  union all
  select s.consultant_id, r.kind, r.severity, r.waivable, null::uuid,
         'shared:' || s.seeker_aff || ':' || s.consultant_aff,
         jsonb_build_object('kind', r.kind, 'label', r.label)
  from shared s
  join public.conflict_rules r on r.kind = s.rule_kind
  where s.overlap_starts <= s.overlap_ends
    and private.within_window(case when s.overlap_ends = 'infinity'::date then null else s.overlap_ends end,
                              r.window_years)
  union all
  select i.consultant_id, r.kind, r.severity, r.waivable, null::uuid,
         'indirect:' || i.person,
         jsonb_build_object('kind', r.kind, 'label', r.label)
  from indirect i
  join public.conflict_rules r on r.kind = 'indirect_tie'
$$;
revoke all on function private.conflict_reasons(uuid, uuid[]) from public, anon, authenticated;

-- The level per candidate, honouring a waiver both parties signed for exactly
-- the potential reasons that exist now.
create function private.conflict_levels(p_seeker uuid, p_consultants uuid[])
returns table (consultant_id uuid, level text, fingerprint text)
language sql
stable
security definer
set search_path = ''
as $$
  with reasons as (select * from private.conflict_reasons(p_seeker, p_consultants)),
  per_pair as (
    select r.consultant_id,
           bool_or(r.severity = 'blocking') as blocking,
           bool_or(r.severity = 'potential') as potential,
           md5(string_agg(r.reason_key, ',' order by r.reason_key)
               filter (where r.severity = 'potential')) as fingerprint
    from reasons r group by r.consultant_id
  )
  select x,
         case when p.blocking then 'blocking'
              when p.potential and exists (
                select 1 from public.conflict_waivers w
                where w.seeker_id = p_seeker and w.consultant_id = x and w.fingerprint = p.fingerprint
                  and w.seeker_signed_at is not null and w.consultant_signed_at is not null) then 'waived'
              when p.potential then 'potential'
              else 'none' end,
         p.fingerprint
  from unnest(p_consultants) x
  left join per_pair p on p.consultant_id = x
$$;
revoke all on function private.conflict_levels(uuid, uuid[]) from public, anon, authenticated;

create function private.log_screening(p_seeker uuid, p_consultant uuid, p_context text, p_level text,
                                      p_screened integer default 1, p_flagged integer default 0)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  insert into public.screening_log (checked_by, seeker_id, consultant_id, context, level, screened, flagged)
  values (auth.uid(), p_seeker, p_consultant, p_context, p_level, p_screened, p_flagged)
$$;
revoke all on function private.log_screening(uuid, uuid, text, text, integer, integer)
  from public, anon, authenticated;

-- The seam the search, profiles and requests call: now the real screening,
-- and every call with a context is logged (a search's batch as one entry).
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
  worst text;
begin
  select coalesce(array_agg(l.consultant_id), '{}'), coalesce(array_agg(l.level), '{}') into ids, levels
  from private.conflict_levels(p_seeker, coalesce(p_consultants, '{}')) l;
  if p_context is not null then
    worst := case when 'blocking' = any (levels) then 'blocking' when 'potential' = any (levels) then 'potential'
                  when 'waived' = any (levels) then 'waived' else 'none' end;
    perform private.log_screening(p_seeker,
                                  case when cardinality(p_consultants) = 1 then p_consultants[1] end,
                                  p_context, worst, cardinality(ids),
                                  (select count(*)::integer from unnest(levels) v where v <> 'none'));
  end if;
  return query select * from unnest(ids, levels);
end;
$$;
revoke all on function public.screen_candidates(uuid, uuid[], text) from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- What a member sees: the level, their own reasons in full, and for every
-- reason drawn from someone else's data only that a conflict was found.
-- Indirect ties never name the third person.
-- ---------------------------------------------------------------------------
create function private.disclosed_reasons(p_viewer uuid, p_seeker uuid, p_consultant uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(
    case when r.entered_by = p_viewer and r.kind <> 'indirect_tie' then
           jsonb_build_object('mine', true, 'severity', r.severity, 'waivable', r.waivable,
                              'kind', r.kind, 'label', r.detail ->> 'label',
                              'starts_on', r.detail ->> 'starts_on', 'ends_on', r.detail ->> 'ends_on')
         else jsonb_build_object('mine', false, 'severity', r.severity, 'waivable', r.waivable,
                                 'text', 'A conflict was found from information you cannot see.')
    end order by r.severity, r.entered_by = p_viewer desc, r.reason_key), '[]')
  from private.conflict_reasons(p_seeker, array[p_consultant]) r
$$;
revoke all on function private.disclosed_reasons(uuid, uuid, uuid) from public, anon, authenticated;

-- Which side of a screening the caller is on, with the other party: the
-- consultant is whoever offers consultation and was asked (or is being looked at).
create function private.orient(p_me uuid, p_other uuid, out seeker uuid, out consultant uuid)
language sql
stable
security definer
set search_path = ''
as $$
  select case when received then p_other else p_me end, case when received then p_me else p_other end
  from (select exists (select 1 from public.consultation_requests r
                       where r.consultant_id = p_me and r.seeker_id = p_other)
               or not exists (select 1 from public.profiles p where p.id = p_other and p.is_consultant)
               as received) o
$$;
revoke all on function private.orient(uuid, uuid) from public, anon, authenticated;

create function public.check_conflicts(p_other uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  pair record;
  result record;
  waiver public.conflict_waivers;
begin
  if me is null then
    raise exception 'Sign in to check for conflicts.' using errcode = '42501';
  end if;
  if p_other is null or p_other = me or not exists (select 1 from public.profiles where id = p_other) then
    raise exception 'Choose someone to check against.' using errcode = 'P0002';
  end if;
  select * into pair from private.orient(me, p_other);
  select * into result from private.conflict_levels(pair.seeker, array[pair.consultant]);
  perform private.log_screening(pair.seeker, pair.consultant, 'on_demand', result.level);
  select * into waiver from public.conflict_waivers w
  where w.seeker_id = pair.seeker and w.consultant_id = pair.consultant and w.fingerprint = result.fingerprint;
  return jsonb_build_object(
    'level', result.level,
    'my_role', case when pair.seeker = me then 'seeker' else 'consultant' end,
    'reasons', private.disclosed_reasons(me, pair.seeker, pair.consultant),
    'waiver', case when waiver.id is null then null else jsonb_build_object(
      'i_signed', case when pair.seeker = me then waiver.seeker_signed_at else waiver.consultant_signed_at end
                  is not null,
      'they_signed', case when pair.seeker = me then waiver.consultant_signed_at else waiver.seeker_signed_at end
                     is not null,
      'my_rationale', case when pair.seeker = me then waiver.seeker_rationale else waiver.consultant_rationale end)
    end);
end;
$$;
revoke all on function public.check_conflicts(uuid) from public, anon;
grant execute on function public.check_conflicts(uuid) to authenticated;

-- Sign a waiver of the potential conflicts that exist now. Both parties must
-- sign the same set; a change in the reasons needs new signatures.
create function public.sign_waiver(p_other uuid, p_rationale text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  pair record;
  result record;
begin
  if me is null then
    raise exception 'Sign in to sign a waiver.' using errcode = '42501';
  end if;
  if char_length(btrim(coalesce(p_rationale, ''))) < 20 then
    raise exception 'Write your rationale in at least 20 characters: what you discussed and why you proceed.'
      using detail = 'rationale';
  end if;
  select * into pair from private.orient(me, p_other);
  select * into result from private.conflict_levels(pair.seeker, array[pair.consultant]);
  if result.level = 'blocking' then
    raise exception 'This conflict cannot be waived.' using detail = 'level',
      hint = 'Supervisory, family, romantic, business and treatment relationships rule out treatment.';
  end if;
  if result.level = 'none' then
    raise exception 'There is no conflict to waive.' using detail = 'level';
  end if;
  insert into public.conflict_waivers as w (seeker_id, consultant_id, fingerprint)
  values (pair.seeker, pair.consultant, result.fingerprint)
  on conflict (seeker_id, consultant_id, fingerprint) do nothing;
  if pair.seeker = me then
    update public.conflict_waivers set seeker_rationale = btrim(p_rationale), seeker_signed_at = now()
    where seeker_id = pair.seeker and consultant_id = pair.consultant and fingerprint = result.fingerprint;
  else
    update public.conflict_waivers set consultant_rationale = btrim(p_rationale), consultant_signed_at = now()
    where seeker_id = pair.seeker and consultant_id = pair.consultant and fingerprint = result.fingerprint;
  end if;
  insert into public.audit_log (actor_id, action, detail)
  values (me, 'waiver_signed', jsonb_build_object('seeker', pair.seeker, 'consultant', pair.consultant));
  return public.check_conflicts(p_other);
end;
$$;
revoke all on function public.sign_waiver(uuid, text) from public, anon;
grant execute on function public.sign_waiver(uuid, text) to authenticated;

-- The screenings that concerned me: my own checks (searches included), and
-- explicit checks by a counterpart (on demand, request, acceptance). Never reasons.
create function public.my_screening_log(p_limit integer default 100)
returns table (created_at timestamptz, context text, level text, other_name text, screened integer,
               checked_by_me boolean)
language sql
stable
security definer
set search_path = ''
as $$
  select l.created_at, l.context, l.level,
         (select p.display_name from public.profiles p
          where p.id = case when l.seeker_id = auth.uid() then l.consultant_id else l.seeker_id end),
         l.screened, l.checked_by = auth.uid()
  from public.screening_log l
  where l.checked_by = auth.uid()
     or (auth.uid() in (l.seeker_id, l.consultant_id) and l.context in ('on_demand', 'request', 'accept'))
  order by l.created_at desc, l.id desc
  limit least(greatest(coalesce(p_limit, 100), 1), 500)
$$;
revoke all on function public.my_screening_log(integer) from public, anon;
grant execute on function public.my_screening_log(integer) to authenticated;

-- ---------------------------------------------------------------------------
-- My declarations (SECURITY INVOKER: RLS keeps them the declarer's own)
-- ---------------------------------------------------------------------------
create function public.get_my_declarations()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'affiliations', coalesce((select jsonb_agg(to_jsonb(a) - 'member_id' order by a.starts_on nulls first, a.id)
                              from public.affiliations a where a.member_id = auth.uid()), '[]'),
    'relationships', coalesce((
      select jsonb_agg(to_jsonb(d) - 'declarer_id' || jsonb_build_object('counterpart_display',
               coalesce((select p.display_name from public.profiles p where p.id = d.counterpart_id),
                        d.counterpart_name))
             order by d.created_at, d.id)
      from public.declared_relationships d where d.declarer_id = auth.uid()), '[]'))
$$;
revoke all on function public.get_my_declarations() from public, anon;
grant execute on function public.get_my_declarations() to authenticated;

-- Declarations are added and removed one at a time, so two open windows never
-- overwrite each other's changes.
create function public.add_my_affiliation(p_organisation text, p_kind text, p_role text default null,
                                          p_email_domain text default null, p_starts_on date default null,
                                          p_ends_on date default null)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'Sign in to change your declarations.' using errcode = '42501';
  end if;
  insert into public.affiliations (member_id, organisation, kind, role, email_domain, starts_on, ends_on)
  values (auth.uid(), btrim(p_organisation), p_kind, nullif(btrim(p_role), ''),
          nullif(lower(btrim(p_email_domain)), ''), p_starts_on, p_ends_on);
  return public.get_my_declarations();
end;
$$;

create function public.add_my_relationship(p_kind text, p_counterpart_id uuid default null,
                                           p_counterpart_name text default null,
                                           p_counterpart_email text default null,
                                           p_starts_on date default null, p_ends_on date default null)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'Sign in to change your declarations.' using errcode = '42501';
  end if;
  if p_counterpart_id is not null and not exists (select 1 from public.profiles where id = p_counterpart_id) then
    raise exception 'Pick the person from the list, or give a name and email.' using detail = 'counterpart';
  end if;
  insert into public.declared_relationships (declarer_id, counterpart_id, counterpart_name, counterpart_email, kind,
                                             starts_on, ends_on)
  values (auth.uid(), p_counterpart_id, nullif(btrim(p_counterpart_name), ''),
          nullif(lower(btrim(p_counterpart_email)), ''), p_kind, p_starts_on, p_ends_on);
  return public.get_my_declarations();
end;
$$;

create function public.remove_my_declaration(p_id uuid)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
  delete from public.affiliations where id = p_id and member_id = auth.uid();
  if not found then
    delete from public.declared_relationships where id = p_id and declarer_id = auth.uid();
  end if;
  return public.get_my_declarations();
end;
$$;

-- Consultants are a public directory: a member may pick one by name.
create function public.find_consultants(p_query text)
returns table (id uuid, display_name text)
language sql
stable
set search_path = ''
as $$
  select p.id, p.display_name from public.profiles p
  where p.is_consultant and p.id <> auth.uid() and char_length(btrim(p_query)) >= 2
    and p.display_name ilike '%' || btrim(p_query) || '%'
  order by p.display_name, p.id
  limit 20
$$;

revoke all on function public.add_my_affiliation(text, text, text, text, date, date),
  public.add_my_relationship(text, uuid, text, text, date, date), public.remove_my_declaration(uuid),
  public.find_consultants(text) from public, anon;
grant execute on function public.add_my_affiliation(text, text, text, text, date, date),
  public.add_my_relationship(text, uuid, text, text, date, date), public.remove_my_declaration(uuid),
  public.find_consultants(text) to authenticated;

create function public.list_conflict_rules()
returns setof public.conflict_rules
language sql
stable
set search_path = ''
as $$
  select * from public.conflict_rules order by severity, derived, kind
$$;
revoke all on function public.list_conflict_rules() from public, anon;
grant execute on function public.list_conflict_rules() to authenticated;

-- Admins adjust a rule; every change is audited with the before and after.
create function public.admin_update_conflict_rule(p_kind text, p_severity text, p_window_years integer,
                                                  p_waivable boolean)
returns public.conflict_rules
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  before public.conflict_rules;
  after public.conflict_rules;
begin
  if not public.is_admin() then
    raise exception 'Only administrators can change conflict rules.' using errcode = '42501';
  end if;
  select * into before from public.conflict_rules where kind = p_kind for update;
  if before.kind is null then
    raise exception 'No rule for %.', p_kind using errcode = 'P0002';
  end if;
  update public.conflict_rules
  set severity = p_severity, window_years = p_window_years, waivable = p_waivable and p_severity = 'potential'
  where kind = p_kind returning * into after;
  insert into public.audit_log (actor_id, action, detail)
  values (auth.uid(), 'conflict_rule_changed', jsonb_build_object('before', to_jsonb(before), 'after', to_jsonb(after)));
  return after;
end;
$$;
revoke all on function public.admin_update_conflict_rule(text, text, integer, boolean) from public, anon;
grant execute on function public.admin_update_conflict_rule(text, text, integer, boolean) to authenticated;

-- The engagement carries its waiver, for both parties to see.
create function public.my_engagements()
returns table (id uuid, other_id uuid, other_name text, my_role text, status text, started_at timestamptz,
               waiver_signed_at timestamptz, other_timezone text)
language sql
stable
set search_path = ''
as $$
  select e.id,
         case when e.seeker_id = auth.uid() then e.consultant_id else e.seeker_id end,
         p.display_name,
         case when e.seeker_id = auth.uid() then 'seeker' else 'consultant' end,
         e.status, e.started_at,
         (select greatest(w.seeker_signed_at, w.consultant_signed_at) from public.conflict_waivers w
          where w.seeker_id = e.seeker_id and w.consultant_id = e.consultant_id
            and w.seeker_signed_at is not null and w.consultant_signed_at is not null
          order by w.created_at desc limit 1),
         p.timezone
  from public.engagements e
  join public.profiles p on p.id = case when e.seeker_id = auth.uid() then e.consultant_id else e.seeker_id end
  where auth.uid() in (e.seeker_id, e.consultant_id)
  order by e.status, e.started_at desc
$$;
revoke all on function public.my_engagements() from public, anon;
grant execute on function public.my_engagements() to authenticated;
