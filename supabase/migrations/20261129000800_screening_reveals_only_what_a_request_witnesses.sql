-- Screening reveals only what a request witnesses (#16, items 1-4).
--
-- A member who edits their own declarations and watches a screening result
-- change learns the other side's private facts: who a consultant treats (an
-- indirect tie), their affiliation dates (a shared affiliation), their login
-- email (a declaration by email that reads "mine"). So the screening is split
-- by who controls its inputs:
--
-- * Live screening (search, profiles, Check for conflicts, referrals) uses only
--   declarations that name the other member by profile, in either direction.
--   Their inputs are the declarer's own words about a person picked from a
--   list: re-running the check teaches nobody anything new.
-- * Matched screening adds everything that rests on matching the other side's
--   private data: declarations by email, shared affiliations, indirect ties.
--   It runs once, when a request is sent: an act the consultant sees, logged
--   for both, capped per day. Its reasons are kept with the request
--   (private.request_screenings) and read from there until the next request;
--   editing a declaration afterwards changes nothing either party can see.
-- * Derived rules (matched, not declared) are never blocking, so a matched
--   screening never refuses a request outright (a refusal rolls back and
--   leaves no trace): the request goes through, both parties are shown a
--   conflict "from information you cannot see", and the consultant declines or
--   both sign a waiver.

-- ---------------------------------------------------------------------------
-- Derived rules are potential only
-- ---------------------------------------------------------------------------
alter table public.conflict_rules
  add constraint conflict_rules_derived_are_potential check (not derived or severity = 'potential');

create or replace function public.admin_update_conflict_rule(p_kind text, p_severity text, p_window_years integer,
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
  if before.derived and p_severity = 'blocking' then
    raise exception 'A conflict the portal infers by matching (not one a member declared) can only be potential.'
      using detail = 'severity',
            hint = 'Inferred facts are discussed and documented; only a declaration can rule treatment out.';
  end if;
  update public.conflict_rules
  set severity = p_severity, window_years = p_window_years, waivable = p_waivable and p_severity = 'potential'
  where kind = p_kind returning * into after;
  insert into public.audit_log (actor_id, action, detail)
  values (auth.uid(), 'conflict_rule_changed', jsonb_build_object('before', to_jsonb(before), 'after', to_jsonb(after)));
  return after;
end;
$$;

-- ---------------------------------------------------------------------------
-- Matched screening: every reason, as the screening found them before this
-- migration. Called only when a request is sent.
-- ---------------------------------------------------------------------------
create function private.matched_conflict_reasons(p_seeker uuid, p_consultants uuid[])
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
revoke all on function private.matched_conflict_reasons(uuid, uuid[]) from public, anon, authenticated;

-- ---------------------------------------------------------------------------
-- Live screening: declarations naming the other member by profile, either way.
-- Every caller of the screening so far (search, relaxations, profiles, checks,
-- waivers, referrals) reads this function, so all of them become live.
-- ---------------------------------------------------------------------------
create or replace function private.conflict_reasons(p_seeker uuid, p_consultants uuid[])
returns table (consultant_id uuid, kind text, severity text, waivable boolean, entered_by uuid,
               reason_key text, detail jsonb)
language sql
stable
security definer
set search_path = ''
as $$
  with declared as (
    select d.counterpart_id as consultant_id, d.*
    from public.declared_relationships d
    where d.declarer_id = p_seeker and d.counterpart_id = any (p_consultants)
    union all
    select d.declarer_id, d.*
    from public.declared_relationships d
    where d.counterpart_id = p_seeker and d.declarer_id = any (p_consultants)
  )
  select d.consultant_id, r.kind, r.severity, r.waivable, d.declarer_id,
         'declared:' || d.id,
         jsonb_build_object('kind', d.kind, 'label', r.label, 'starts_on', d.starts_on, 'ends_on', d.ends_on,
                            'counterpart', coalesce(d.counterpart_name, d.counterpart_email))
  from declared d
  join public.conflict_rules r on r.kind = d.kind
  where private.within_window(d.ends_on, r.window_years)
$$;

-- ---------------------------------------------------------------------------
-- What a request witnessed: the matched reasons the live screening lacks.
-- ---------------------------------------------------------------------------
create table private.request_screenings (
  request_id     uuid primary key references public.consultation_requests (id) on delete cascade,
  seeker_id      uuid not null references public.profiles (id) on delete cascade,
  consultant_id  uuid not null references public.profiles (id) on delete cascade,
  screened_at    timestamptz not null default now(),
  reasons        jsonb not null default '[]'
);
create index request_screenings_pair_idx on private.request_screenings (seeker_id, consultant_id, screened_at desc);
alter table private.request_screenings enable row level security;
revoke all on private.request_screenings from public, anon, authenticated, portal_member;
grant all on private.request_screenings to service_role;

create function private.take_request_screening(p_request uuid)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  insert into private.request_screenings as s (request_id, seeker_id, consultant_id, reasons)
  select q.id, q.seeker_id, q.consultant_id,
         coalesce((select jsonb_agg(to_jsonb(m) - 'consultant_id' order by m.reason_key)
                   from private.matched_conflict_reasons(q.seeker_id, array[q.consultant_id]) m
                   where m.reason_key not in (
                     select l.reason_key from private.conflict_reasons(q.seeker_id, array[q.consultant_id]) l)),
                  '[]')
  from public.consultation_requests q
  where q.id = p_request
  on conflict (request_id) do update set reasons = excluded.reasons, screened_at = excluded.screened_at
$$;
revoke all on function private.take_request_screening(uuid) from public, anon, authenticated;

-- A pair's reasons: live ones, plus what their latest request witnessed
-- (less any declaration its author has since removed).
create function private.pair_reasons(p_seeker uuid, p_consultant uuid)
returns table (consultant_id uuid, kind text, severity text, waivable boolean, entered_by uuid,
               reason_key text, detail jsonb)
language sql
stable
security definer
set search_path = ''
as $$
  with live as (
    select * from private.conflict_reasons(p_seeker, array[p_consultant])
  ),
  witnessed as (
    select s.reasons from private.request_screenings s
    where s.seeker_id = p_seeker and s.consultant_id = p_consultant
    order by s.screened_at desc
    limit 1
  )
  select * from live
  union all
  select p_consultant, x.kind, x.severity, x.waivable, x.entered_by, x.reason_key, x.detail
  from witnessed w,
       jsonb_to_recordset(w.reasons) as x (kind text, severity text, waivable boolean, entered_by uuid,
                                            reason_key text, detail jsonb)
  where x.reason_key not in (select l.reason_key from live l)
    and (x.reason_key not like 'declared:%'
         or exists (select 1 from public.declared_relationships d where 'declared:' || d.id = x.reason_key))
$$;
revoke all on function private.pair_reasons(uuid, uuid) from public, anon, authenticated;

-- A pair's level, honouring a waiver both signed for exactly these potential reasons.
create function private.pair_level(p_seeker uuid, p_consultant uuid, out level text, out fingerprint text)
language sql
stable
security definer
set search_path = ''
as $$
  with per_pair as (
    select bool_or(r.severity = 'blocking') as blocking,
           bool_or(r.severity = 'potential') as potential,
           md5(string_agg(r.reason_key, ',' order by r.reason_key) filter (where r.severity = 'potential'))
             as fingerprint
    from private.pair_reasons(p_seeker, p_consultant) r
  )
  select case when p.blocking then 'blocking'
              when p.potential and exists (
                select 1 from public.conflict_waivers w
                where w.seeker_id = p_seeker and w.consultant_id = p_consultant and w.fingerprint = p.fingerprint
                  and w.seeker_signed_at is not null and w.consultant_signed_at is not null) then 'waived'
              when p.potential then 'potential'
              else 'none' end,
         p.fingerprint
  from per_pair p
$$;
revoke all on function private.pair_level(uuid, uuid) from public, anon, authenticated;

-- Requests already between two members keep the protection they had: what the
-- screening matches today is recorded as what their latest request witnessed.
select private.take_request_screening(latest.id)
from (select distinct on (q.seeker_id, q.consultant_id) q.id
      from public.consultation_requests q
      where q.status in ('pending', 'accepted')
      order by q.seeker_id, q.consultant_id, q.created_at desc) latest;

-- ---------------------------------------------------------------------------
-- What each party is shown, from the pair's reasons
-- ---------------------------------------------------------------------------
create or replace function private.disclosed_reasons(p_viewer uuid, p_seeker uuid, p_consultant uuid)
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
  from private.pair_reasons(p_seeker, p_consultant) r
$$;

create or replace function public.check_conflicts(p_other uuid)
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
  select * into result from private.pair_level(pair.seeker, pair.consultant);
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

create or replace function public.sign_waiver(p_other uuid, p_rationale text)
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
  select * into result from private.pair_level(pair.seeker, pair.consultant);
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

-- ---------------------------------------------------------------------------
-- Requests: the matched screening runs here, once, and is kept
-- ---------------------------------------------------------------------------
create or replace function public.request_consultation(p_consultant uuid, p_modalities text[], p_message text)
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
  -- Refused only for what search and the profile already show (the live screening).
  select l.level into conflict from private.conflict_levels(me, array[p_consultant]) l;
  if not exists (select 1 from public.profiles p where p.id = p_consultant and p.is_consultant)
     or conflict = 'blocking' then
    raise exception 'This consultant is not available to you.' using errcode = 'P0002';
  end if;
  if exists (select 1 from public.engagements e
             where e.seeker_id = me and e.consultant_id = p_consultant and e.status = 'active') then
    raise exception 'You already work with this consultant.' using detail = 'consultant';
  end if;
  -- Each request runs the matched screening once; a cap keeps it from being used as a probe.
  if (select count(*) from public.consultation_requests r
      where r.seeker_id = me and r.created_at > now() - interval '1 day') >= 20 then
    raise exception 'You have sent 20 requests in the last day; you can send more tomorrow.'
      using detail = 'consultant', hint = 'Requests already sent are under Requests.';
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
  -- Witnessed: the consultant sees the request, and both see this screening in their log.
  perform private.take_request_screening(new_request.id);
  select l.level into conflict from private.pair_level(me, p_consultant) l;
  perform private.log_screening(me, p_consultant, 'request', conflict);
  return to_jsonb(new_request) || jsonb_build_object('conflict', conflict);
exception when unique_violation then
  raise exception 'You already have a pending request with this consultant.'
    using detail = 'consultant', hint = 'Wait for their answer, or see it under Requests.';
end;
$$;

create or replace function public.respond_to_request(p_request uuid, p_accept boolean, p_reason text default null)
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

  -- The live screening now, plus what the request witnessed when it was sent.
  select l.level into conflict from private.pair_level(req.seeker_id, me) l;
  perform private.log_screening(req.seeker_id, me, 'accept', conflict);
  if conflict = 'blocking' then
    raise exception 'A conflict that cannot be waived was found between you two.'
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

-- ---------------------------------------------------------------------------
-- Referrals: the same list as a plain name search. Only the client is told
-- which names are not available to them; the consultant sees nothing to diff.
-- ---------------------------------------------------------------------------
drop function public.referral_candidates(uuid, text);
create function public.referral_candidates(p_engagement uuid, p_query text)
returns table (id uuid, display_name text, available_to_me boolean)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  eng public.engagements;
  ids uuid[];
begin
  select * into eng from public.engagements e where e.id = p_engagement;
  if eng.id is null or auth.uid() not in (eng.seeker_id, eng.consultant_id) then
    raise exception 'No such engagement.' using errcode = 'P0002';
  end if;
  select array_agg(c.id order by c.display_name, c.id) into ids from (
    select p.id, p.display_name from public.profiles p
    where p.is_consultant and p.id not in (eng.seeker_id, eng.consultant_id)
      and char_length(btrim(coalesce(p_query, ''))) >= 2 and p.display_name ilike '%' || btrim(p_query) || '%'
    order by p.display_name, p.id limit 20) c;
  if auth.uid() = eng.seeker_id then
    return query
      select p.id, p.display_name, s.level <> 'blocking'
      from public.screen_candidates(eng.seeker_id, coalesce(ids, '{}'), 'search') s
      join public.profiles p on p.id = s.consultant_id
      order by p.display_name, p.id;
  else
    return query
      select p.id, p.display_name, null::boolean
      from unnest(coalesce(ids, '{}')) x join public.profiles p on p.id = x
      order by p.display_name, p.id;
  end if;
end;
$$;
revoke all on function public.referral_candidates(uuid, text) from public, anon, authenticated;
grant execute on function public.referral_candidates(uuid, text) to portal_member;

-- ---------------------------------------------------------------------------
-- Waivers: parties read that a waiver exists and who signed when; never the
-- fingerprint (it is built from the reasons) nor the other's rationale.
-- ---------------------------------------------------------------------------
revoke select on public.conflict_waivers from portal_member;
grant select (id, seeker_id, consultant_id, seeker_signed_at, consultant_signed_at, created_at)
  on public.conflict_waivers to portal_member;
