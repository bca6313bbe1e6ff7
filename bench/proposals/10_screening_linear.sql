-- Proposed fix 1 (for the screening migration, 20261126000400): private.conflict_reasons
-- without work quadratic in the number of candidates.
--
-- Today `declared` joins unnest(p_consultants) to declared_relationships with an OR
-- condition whose branch `(select e.email from emails e where e.user_id = x)` is a
-- correlated scan of the `emails` CTE (all candidates' credentials) per candidate:
-- n candidates -> n x n comparisons (8,287 candidates: 68 M rows, 2.5 s). `shared` joins
-- the seeker's affiliations to every candidate's (OR join: nested loop, 24,592 rows read),
-- and `close_people` reads every candidate's declarations. Same results, driven from the
-- seeker's side through the existing indexes:
--   * declarations naming a candidate: the seeker's own rows (relationships_declarer_idx),
--     matched to candidates by id or by email via credentials_email_key;
--   * candidates' declarations naming the seeker: relationships_counterpart_idx and
--     relationships_email_idx, then filtered to the candidates;
--   * shared affiliations: the seeker's affiliations, then the members of the same
--     organisation / email domain (affiliations_key_idx, affiliations_domain_idx), then
--     filtered to the candidates (two branches instead of an OR join);
--   * indirect ties: from the seeker's close people and the seeker's current clients.
create or replace function private.conflict_reasons(p_seeker uuid, p_consultants uuid[])
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
