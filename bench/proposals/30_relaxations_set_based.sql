-- Proposed fix 3 (for 20261126000300 / its successors): public.search_relaxations (the "nobody
-- matches" path) evaluates the licence and modality conditions once, as hashed subplans, instead
-- of two correlated subqueries per consultant (50,000 index probes for the competency count:
-- 240 ms of the 258 ms for "NM, mindfulness+act, fee<=190 or sliding"). Same counts.
create or replace function public.search_relaxations(p_me uuid, p_jurisdiction text, p_modalities text[], p_min_level integer, p_format text, p_city text, p_languages text[], p_max_fee integer, p_sliding_ok boolean, p_accepting_only boolean, p_times integer)
 RETURNS jsonb
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
  flags as (
    select p.id,
      p.id in (select profile_id from licensed) as jurisdiction,
      (cardinality(p_modalities) = 0 or p.id in (select consultant_id from competent)) as modalities,
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
    union all select 'modalities', count(*) filter (where not modalities) from screened
    union all select 'format', count(*) filter (where not format) from screened
    union all select 'languages', count(*) filter (where not languages) from screened
    union all select 'fee', count(*) filter (where not fee) from screened
    union all select 'capacity', count(*) filter (where not capacity) from screened
    union all select 'times', count(*) filter (where not times) from screened
  ) counts
  where n > 0
$function$;
