-- Proposed fix 2 (for 20261126000300 / its successors): public.search_consultants scores
-- every candidate set-based and builds the per-competency JSON for the page only.
--
-- Today `scored` runs, for every screened candidate, a lateral subquery that reads its
-- competencies from the heap, hash-joins modalities, sorts and builds a jsonb array: 0.06 ms
-- per candidate (8,287 candidates in CA with no modality filter: 0.5 s), and the `ranked` CTE
-- carrying that JSON spills to disk (4.2 MB > work_mem). Here the fit is one grouped join
-- (index-only on the covering index below) and the JSON is built for the 20 rows shown.
-- The modality narrowing no longer filters `consultant_id = any (ids)` (see below).
-- Same results (checked by bench/run.py: totals and top 20 equal for every bench query).
--
-- Covering indexes so the narrowing steps are index-only:
create index if not exists competencies_consultant_cover_idx
  on public.competencies (consultant_id) include (modality, level, verification_status, expires_on);
create index if not exists licenses_jurisdiction_cover_idx
  on public.licenses (jurisdiction, expires_on) include (profile_id);
drop index if exists public.licenses_jurisdiction_idx;  -- superseded by the covering one

create or replace function public.search_consultants(p_jurisdiction text, p_modalities text[] DEFAULT '{}'::text[], p_min_level integer DEFAULT 1, p_format text DEFAULT 'any'::text, p_city text DEFAULT NULL::text, p_languages text[] DEFAULT '{}'::text[], p_max_fee integer DEFAULT NULL::integer, p_sliding_ok boolean DEFAULT false, p_accepting_only boolean DEFAULT true, p_times integer DEFAULT 0, p_limit integer DEFAULT 20, p_offset integer DEFAULT 0)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
           avg(c.level * 7.5 + case when c.verification_status = 'verified'
                                     and (c.expires_on is null or c.expires_on >= current_date)
                                then 10 else 0 end) as fit
    from screened s
    join public.competencies c on c.consultant_id = s.id
    where cardinality(wanted) = 0 or c.modality = any (wanted)
    group by c.consultant_id
  ),
  scored as (
    select s.id, s.display_name, s.pronouns, s.languages, s.fee_usd, s.sliding_scale, s.offers_telehealth,
           s.offers_in_person, s.city, s.years_in_practice, s.timezone, s.conflict,
           s.accepting_new_clients and s.has_room as has_room,
           round(coalesce(m.fit, 0), 1) as modality_score,
           round((case when s.accepting_new_clients and s.has_room then 10 else 0 end
                  + case when times = 0 then case when s.time_buckets <> 0 then 10 else 0 end
                         else 10.0 * bit_count((s.time_buckets & times)::bit(4))
                              / bit_count(times::bit(4)) end), 1) as availability_score,
           round(15.0 * least(coalesce(s.years_in_practice, 0), 25) / 25
                 + 5.0 * least(s.clients_served, 5) / 5, 1) as experience_score,
           round(case when cardinality(langs) > 0 then
                        case when langs[1] = any (s.languages) then 10 when s.languages && langs then 5 else 0 end
                      when s.languages && coalesce(my_langs, '{en}') then 10 else 0 end, 1) as language_score,
           round(case when p_max_fee is not null then
                        case when s.fee_usd <= p_max_fee
                             then 5 + 5.0 * (1 - s.fee_usd::numeric / greatest(p_max_fee, 1))
                             else 3 end
                      else least(10, 10.0 * (1 - least(coalesce(s.fee_usd, 300), 300) / 300.0)
                                     + case when s.sliding_scale then 2 else 0 end) end, 1) as fee_score
    from screened s
    left join fit m on m.consultant_id = s.id
  ),
  ranked as (
    select sc.*,
           round(modality_score + availability_score + experience_score + language_score + fee_score)::int
             as score
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
                        'modality', pg.modality_score, 'availability', pg.availability_score,
                        'experience', pg.experience_score, 'language', pg.language_score, 'fee', pg.fee_score))
                   order by pg.score desc, pg.display_name, pg.id) from page pg), '[]')
  into total, result;

  return jsonb_build_object(
    'total', total,
    'results', result,
    'relax', case when total = 0 then public.search_relaxations(
      me, p_jurisdiction, wanted, min_level, p_format, want_city, langs, p_max_fee, p_sliding_ok, p_accepting_only, times)
    else '[]'::jsonb end);
end;
$function$;

