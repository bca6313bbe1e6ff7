-- Every view of a pair shows the kept level (issue 22, item 6).
--
-- After a request's matched screening found a conflict, Check for conflicts said so (it read
-- private.pair_reasons: live reasons plus what the latest request witnessed) while search and
-- the profile still showed none (they read private.conflicts_found: live reasons only), and a
-- blocking one was still listed. Now one function says what a pair's reasons are,
-- private.kept_reasons: the live reasons plus what the latest request between the two witnessed,
-- in either direction (a consultant may ask a consultant who once asked them). Search,
-- relaxations, the profile, referrals, requests (conflict_levels), Check for conflicts, waivers
-- and acceptances all read it, so every view of a pair shows one level.
--
-- Search stays fast: it screens only the members its caller has a conflict with, found once per
-- search (private.seeker_conflicts): those named in declarations either way, and now the few
-- members on the other side of the caller's own kept screenings, looked up by index.
-- The two new functions are invokers executable by no API role, called only from the SECURITY
-- DEFINER screening functions (which run them as the owner).

create index request_screenings_other_side_idx
  on private.request_screenings (consultant_id, seeker_id, screened_at desc);

-- What the latest request between p_member and each of p_others witnessed, either direction,
-- less any declaration its author has since removed.
create function private.witnessed_reasons(p_member uuid, p_others uuid[])
returns table (consultant_id uuid, kind text, severity text, waivable boolean, entered_by uuid,
               reason_key text, detail jsonb)
language sql
stable
set search_path = ''
as $$
  with latest as (
    select distinct on (o.other) o.other, o.reasons
    from (select s.consultant_id as other, s.reasons, s.screened_at
          from private.request_screenings s
          where s.seeker_id = p_member and s.consultant_id = any (p_others)
          union all
          select s.seeker_id, s.reasons, s.screened_at
          from private.request_screenings s
          where s.consultant_id = p_member and s.seeker_id = any (p_others)) o
    order by o.other, o.screened_at desc
  )
  select l.other, x.kind, x.severity, x.waivable, x.entered_by, x.reason_key, x.detail
  from latest l,
       jsonb_to_recordset(l.reasons) as x (kind text, severity text, waivable boolean, entered_by uuid,
                                            reason_key text, detail jsonb)
  -- (CASE, so that only a declaration's key is read as its id: 'declared:<uuid>'.)
  where case when x.reason_key like 'declared:%'
             then exists (select 1 from public.declared_relationships d where d.id = substr(x.reason_key, 10)::uuid)
             else true end
$$;
revoke all on function private.witnessed_reasons(uuid, uuid[]) from public, anon, authenticated;

-- A pair's reasons, for one member against many: live, plus what their latest request witnessed.
-- `witnessed`: found by the matching at a request, not by the live screening.
create function private.kept_reasons(p_seeker uuid, p_consultants uuid[])
returns table (consultant_id uuid, kind text, severity text, waivable boolean, entered_by uuid,
               reason_key text, detail jsonb, witnessed boolean)
language sql
stable
set search_path = ''
as $$
  with live as (
    select * from private.conflict_reasons(p_seeker, p_consultants)
  )
  select l.*, false from live l
  union all
  select w.*, true from private.witnessed_reasons(p_seeker, p_consultants) w
  where not exists (select 1 from live l where l.consultant_id = w.consultant_id and l.reason_key = w.reason_key)
$$;
revoke all on function private.kept_reasons(uuid, uuid[]) from public, anon, authenticated;

create or replace function private.pair_reasons(p_seeker uuid, p_consultant uuid)
returns table (consultant_id uuid, kind text, severity text, waivable boolean, entered_by uuid,
               reason_key text, detail jsonb)
language sql
stable
security definer
set search_path = ''
as $$
  select r.consultant_id, r.kind, r.severity, r.waivable, r.entered_by, r.reason_key, r.detail
  from private.kept_reasons(p_seeker, array[p_consultant]) r
$$;

-- The levels search, the profile and requests read: from the kept reasons, as pair_level does.
create or replace function private.conflicts_found(p_seeker uuid, p_consultants uuid[])
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
    from private.kept_reasons(p_seeker, p_consultants) r
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

-- Everyone the caller may have a conflict with, found once per search: those named in a
-- declaration either way, and those on the other side of the caller's own kept screenings.
create or replace function private.seeker_conflicts(p_seeker uuid)
returns table (consultant_id uuid, level text)
language sql
stable
set search_path = ''
as $$
  select f.consultant_id, f.level
  from private.conflicts_found(p_seeker, array(
         select d.counterpart_id from public.declared_relationships d
         where d.declarer_id = p_seeker and d.counterpart_id is not null
         union
         select d.declarer_id from public.declared_relationships d
         where d.counterpart_id = p_seeker
         union
         select s.consultant_id from private.request_screenings s
         where s.seeker_id = p_seeker and s.reasons <> '[]'
         union
         select s.seeker_id from private.request_screenings s
         where s.consultant_id = p_seeker and s.reasons <> '[]')) f
  where f.level <> 'none'
$$;

-- ---------------------------------------------------------------------------
-- What each party is shown (issue 23, item 1: no decoder). A member who declared guess i 2^i
-- times, or guesses of different kinds, or many organisations, and sent one request, read the
-- other side's secrets from the number of lines, from the dates of their own entries that
-- matched, or from which kinds matched. Now, whatever the number of rows:
-- * their own live entries (a person picked by profile: nothing secret in them) are one line
--   per kind, with no dates;
-- * their own entries that only the matching at a request found (a person declared by email
--   turned out to be this member) are one sentence, with no kind and no dates;
-- * everything drawn from data they cannot see is one sentence.
-- What remains is the level (blocking, potential), which the decision needs.
-- ---------------------------------------------------------------------------
create or replace function private.disclosed_reasons(p_viewer uuid, p_seeker uuid, p_consultant uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with reasons as (
    select r.*,
           case when r.entered_by is distinct from p_viewer or r.kind = 'indirect_tie' then 'hidden'
                when r.witnessed then 'matched'
                else 'declared' end as shown_as
    from private.kept_reasons(p_seeker, array[p_consultant]) r
  ),
  lines as (
    select r.shown_as, case when r.shown_as = 'declared' then r.kind end as kind,
           case when bool_or(r.severity = 'blocking') then 'blocking' else 'potential' end as severity,
           bool_and(r.waivable) as waivable, min(r.detail ->> 'label') as label
    from reasons r
    group by 1, 2
  )
  select coalesce(jsonb_agg(
    case l.shown_as
      when 'declared' then jsonb_build_object('mine', true, 'severity', l.severity, 'waivable', l.waivable,
                                              'kind', l.kind, 'label', l.label)
      when 'matched' then jsonb_build_object('mine', true, 'severity', l.severity, 'waivable', l.waivable,
                                             'text', 'Someone you declared by email is this member.')
      else jsonb_build_object('mine', false, 'severity', l.severity, 'waivable', l.waivable,
                              'text', 'A conflict was found from information you cannot see.')
    end order by l.severity, array_position(array['declared', 'matched', 'hidden'], l.shown_as), l.kind), '[]')
  from lines l
$$;
