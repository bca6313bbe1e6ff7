-- Search counts from one list (issue 14).
--
-- A search that wants modalities counted its matches (up to 1,001) by intersecting two large
-- lists: everyone licensed in the jurisdiction (about 100,000 in Florida at 500,000 consultants)
-- and everyone competent in the modalities anywhere (about 115,000 for two of the common ones).
-- Both bitmaps were built whole before a row was read: 60 ms of a 110 ms count.
--
-- Now each facts row is also indexed by its places: one token per jurisdiction where a licence
-- is current and competence token, 'FL|cbt>=2'. Licensed in J and competent in every wanted
-- modality at level n is then one containment, `places @> {J|m1>=n, J|m2>=n}`, answered from
-- the short lists of that jurisdiction (16,000 rows for the search above, 6 ms). The rows are
-- the same: a row holds J|m>=n exactly when J is among its jurisdictions and m>=n among its
-- competence (codes cannot hold '|': jurisdictions are two capitals, modalities lower case, so
-- a token names one pair). The capped count and the relaxation counts use it; the scoring
-- steps, which read rows by key, keep the two plain conditions.
--
-- The places are an expression index, not a column: the facts rows stay as narrow as they were.
-- (One index of tokens for every filter was measured too, and was slower: intersecting a short
-- list with the long ones, accepting, telehealth, fee steps, cost more than the rows it saved.)

create function private.search_places(p_jurisdictions text[], p_competence text[])
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array(select j || '|' || c from unnest(p_jurisdictions) j cross join unnest(p_competence) c)
$$;
revoke all on function private.search_places(text[], text[]) from public, anon, authenticated;

create index search_facts_places_idx on private.search_facts using gin (private.search_places(jurisdictions, competence));

-- The filters gain 'places' (jurisdiction and modalities together); the others are unchanged.
create or replace function private.search_filter_sql(
  p_filter text, p_wanted_count integer, p_format text, p_city text, p_language_count integer,
  p_max_fee integer, p_sliding_ok boolean, p_accepting_only boolean, p_times integer)
returns text
language sql
immutable
set search_path = ''
as $$
  select case p_filter
    when 'jurisdiction' then 'f.jurisdictions @> array[$1]'
    when 'modalities' then case when p_wanted_count > 0 then 'f.competence @> $2' end
    -- Licensed here and competent in every wanted modality, as one lookup in one list (see the header).
    when 'places' then case when p_wanted_count > 0
                            then 'private.search_places(f.jurisdictions, f.competence) @> private.search_places(array[$1], $2)' end
    when 'format' then case coalesce(p_format, 'any')
                         when 'telehealth' then 'f.offers_telehealth'
                         when 'in_person' then case when p_city is null then 'f.offers_in_person'
                                                    else 'f.offers_in_person and f.city_key = $9' end end
    when 'languages' then case when p_language_count > 0 then 'f.languages && $4' end
    when 'fee' then case when p_max_fee is not null then
                      case when coalesce(p_sliding_ok, false) then '(f.fee_usd <= $6 or f.sliding_scale)'
                           else 'f.fee_usd <= $6' end end
    when 'capacity' then case when coalesce(p_accepting_only, true) then 'f.open_to_new' end
    when 'times' then case when coalesce(p_times, 0) <> 0 then 'f.time_buckets & $8 <> 0' end
  end
$$;
revoke all on function private.search_filter_sql(text, integer, text, text, integer, integer, boolean, boolean, integer)
  from public, anon, authenticated;

-- ---------------------------------------------------------------------------
-- The search and its relaxations: as in 20261129002000, with the counts through the places.
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
-- A search reads a few hundred rows: starting parallel workers costs more than it saves.
set max_parallel_workers_per_gather = 0
as $$
declare
  cap constant integer := 1000;
  me uuid := auth.uid();
  wanted text[] := coalesce(p_modalities, '{}');
  langs text[] := coalesce(p_languages, '{}');
  my_langs text[];
  min_level integer := greatest(1, least(coalesce(p_min_level, 1), 4));
  times integer := coalesce(p_times, 0) & 15;
  want_city text := nullif(lower(btrim(p_city)), '');
  fmt text := coalesce(p_format, 'any');
  page_size integer := least(greatest(coalesce(p_limit, 20), 1), 100);
  page_offset integer := greatest(coalesce(p_offset, 0), 0);
  top_k integer;
  competent_in text[];
  blocked uuid[];
  conflict_ids uuid[];
  conflict_levels text[];
  cond_base text;
  cond text;
  cond_count text;
  scores text;
  hit_ids uuid[];
  hit_levels text[];
  screened integer;
  lists text[];
  total integer;
  page jsonb;
  tau integer;
  thr integer;
begin
  if me is null then
    raise exception 'Sign in to search.' using errcode = '42501';
  end if;
  if p_jurisdiction is null or not exists (select 1 from public.jurisdictions j where j.code = p_jurisdiction) then
    raise exception 'Choose the state or province where you live.'
      using detail = 'jurisdiction', hint = 'Consultants must be licensed where you are.';
  end if;
  if fmt not in ('any', 'telehealth', 'in_person') then
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
  my_langs := coalesce(my_langs, '{en}');
  competent_in := array(select w || '>=' || min_level from unnest(wanted) w);
  top_k := page_offset + page_size;

  -- The pre-screen: everyone with a conflict for this seeker, once.
  select coalesce(array_agg(c.consultant_id), '{}'), coalesce(array_agg(c.level), '{}')
  into conflict_ids, conflict_levels
  from private.seeker_conflicts(me) c;
  blocked := array(select x.id from unnest(conflict_ids, conflict_levels) x (id, level) where x.level = 'blocking');

  select 'f.consultant_id <> $10 and ' || string_agg(c, ' and ')
  into cond_base
  from (select private.search_filter_sql(name, cardinality(wanted), fmt, want_city, cardinality(langs), p_max_fee,
                                         p_sliding_ok, p_accepting_only, times) c
        from unnest(array['jurisdiction', 'modalities', 'format', 'languages', 'fee', 'capacity', 'times']) name) x
  where c is not null;
  cond := cond_base || ' and not (f.consultant_id = any ($11))';
  -- The count reads one list of the places index when modalities are wanted (the same rows).
  select 'f.consultant_id <> $10 and not (f.consultant_id = any ($11)) and ' || string_agg(c, ' and ')
  into cond_count
  from (select private.search_filter_sql(name, cardinality(wanted), fmt, want_city, cardinality(langs), p_max_fee,
                                         p_sliding_ok, p_accepting_only, times) c
        from unnest(case when cardinality(wanted) > 0
                         then array['places', 'format', 'languages', 'fee', 'capacity', 'times']
                         else array['jurisdiction', 'format', 'languages', 'fee', 'capacity', 'times'] end) name) x
  where c is not null;
  scores := private.search_score_sql(cardinality(wanted), cardinality(langs), p_max_fee, times);

  -- Up to 1,000 matches: all of them scored, the total exact.
  execute format($q$
    with matched as materialized (
      select f.consultant_id as id, f.display_name, f.open_to_new as has_room, %2$s
      from private.search_facts f where %7$s
      limit %3$s
    ),
    counted as (select count(*)::int as n from matched),
    page as (
      select m.*, floor((m.rm + m.ra + m.re + m.rl + m.rf) / 10 + 0.5)::int as score
      from matched m where (select n from counted) <= %4$s
      order by score desc, display_name, id
      limit %5$s offset %6$s
    )
    select (select n from counted), (select jsonb_agg(to_jsonb(p) order by p.score desc, p.display_name, p.id) from page p)
  $q$, cond, scores, cap + 1, cap, page_size, page_offset, cond_count)
  into total, page
  using p_jurisdiction, competent_in, wanted, langs, my_langs, p_max_fee, p_sliding_ok, times, want_city, me, blocked;

  if total > cap then
    -- More than 1,000: read the lists in bound order (see the header).
    lists := case when cardinality(wanted) = 0 then array['']
                  else array(select distinct w from unnest(wanted) w order by w) end;
    -- The first matches of one list: the k-th best score among them is at most the true k-th.
    -- (The list is read in its index order and each entry's facts looked up by key until enough
    -- match; the lateral subquery is kept apart so the plan stays that nested loop.)
    execute format($q$
      select min(s.score) from (
        select t.score from (
          select floor((x.rm + x.ra + x.re + x.rl + x.rf) / 10 + 0.5)::int as score
          from (select r.consultant_id, r.bound from private.search_rank r
                where r.jurisdiction = $1 and r.modality = %3$L) r
          cross join lateral (select %2$s from private.search_facts f
                              where f.consultant_id = r.consultant_id and %1$s offset 0) x
          order by r.bound desc
          limit %4$s) t
        order by 1 desc limit %5$s) s
      having count(*) >= %5$s
    $q$, cond, scores, lists[1], top_k + 30, top_k)
    into tau
    using p_jurisdiction, competent_in, wanted, langs, my_langs, p_max_fee, p_sliding_ok, times, want_city, me, blocked;
    -- Fewer than k in that list (a page far down): every entry is read.
    thr := case when tau is null then -32768 else 10 * tau - 5 - private.search_fee_slack(p_max_fee) end;
    execute format($q$
      with read as (
        select distinct r.consultant_id from private.search_rank r
        where r.jurisdiction = $1 and r.modality = any (%3$L::text[]) and r.bound >= %4$s
      ),
      scored as (
        select x.* from read
        cross join lateral (select f.consultant_id as id, f.display_name, f.open_to_new as has_room, %2$s
                            from private.search_facts f
                            where f.consultant_id = read.consultant_id and %1$s offset 0) x
      ),
      page as (
        select s.*, floor((s.rm + s.ra + s.re + s.rl + s.rf) / 10 + 0.5)::int as score
        from scored s
        order by score desc, display_name, id
        limit %5$s offset %6$s
      )
      select jsonb_agg(to_jsonb(p) order by p.score desc, p.display_name, p.id) from page p
    $q$, cond, scores, lists, thr, page_size, page_offset)
    into page
    using p_jurisdiction, competent_in, wanted, langs, my_langs, p_max_fee, p_sliding_ok, times, want_city, me, blocked;
  end if;

  -- The search is logged as one screening, as before: how many matched (blocked ones included; capped)
  -- and how many of them have a conflict (the conflicted consultants are a handful, each checked
  -- against the filters by its key).
  execute format('select coalesce(array_agg(x.id), ''{}''), coalesce(array_agg(x.level), ''{}'') '
                 'from unnest($12, $13) as x (id, level) '
                 'join private.search_facts f on f.consultant_id = x.id where %s', cond_base)
  into hit_ids, hit_levels
  using p_jurisdiction, competent_in, wanted, langs, my_langs, p_max_fee, p_sliding_ok, times, want_city, me, blocked,
        conflict_ids, conflict_levels;
  screened := total + (select count(*)::int from unnest(hit_levels) v where v = 'blocking');
  perform private.log_screening(
    me,
    case when screened = 1 then coalesce((page -> 0 ->> 'id')::uuid, hit_ids[1]) end,
    'search',
    case when 'blocking' = any (hit_levels) then 'blocking' when 'potential' = any (hit_levels) then 'potential'
         when 'waived' = any (hit_levels) then 'waived' else 'none' end,
    screened, cardinality(hit_ids));

  return jsonb_build_object(
    'total', total,
    'total_capped', total > cap,
    'results', coalesce((
      select jsonb_agg(jsonb_build_object(
               'consultant_id', p.id, 'display_name', p.display_name, 'pronouns', p.pronouns,
               'languages', p.languages, 'fee_usd', p.fee_usd, 'sliding_scale', p.sliding_scale,
               'offers_telehealth', p.offers_telehealth, 'offers_in_person', p.offers_in_person,
               'city', p.city, 'years_in_practice', p.years_in_practice, 'timezone', p.timezone,
               'has_room', (pg ->> 'has_room')::boolean,
               'conflict', coalesce((select x.level from unnest(conflict_ids, conflict_levels) x (id, level)
                                     where x.id = p.id), 'none'),
               'competencies', coalesce((
                 select jsonb_agg(jsonb_build_object(
                          'modality', c.modality, 'name', mo.name, 'level', c.level,
                          'verified', c.verification_status = 'verified'
                                      and (c.expires_on is null or c.expires_on >= current_date))
                        order by c.level desc, c.modality)
                 from public.competencies c
                 join public.modalities mo on mo.code = c.modality
                 where c.consultant_id = p.id
                   and (cardinality(wanted) = 0 or c.modality = any (wanted))), '[]'),
               'score', (pg ->> 'score')::int,
               'breakdown', jsonb_build_object(
                  'modality', round((pg ->> 'rm')::numeric / 10, 1),
                  'availability', round((pg ->> 'ra')::numeric / 10, 1),
                  'experience', round((pg ->> 're')::numeric / 10, 1),
                  'language', round((pg ->> 'rl')::numeric / 10, 1),
                  'fee', round((pg ->> 'rf')::numeric / 10, 1)))
             order by o)
      from jsonb_array_elements(page) with ordinality as e (pg, o)
      join public.profiles p on p.id = (pg ->> 'id')::uuid), '[]'),
    'relax', case when total = 0 then public.search_relaxations(
      me, p_jurisdiction, wanted, min_level, p_format, want_city, langs, p_max_fee, p_sliding_ok, p_accepting_only, times)
    else '[]'::jsonb end);
end;
$$;

-- When a search finds nobody: for each filter, how many consultants it alone kept out
-- (they pass every other filter), screened like the search itself so the counts never
-- reveal a hidden blocking conflict. One capped count per filter (LIMIT 1001) through the
-- facts' indexes; a count above 1,000 reads "more than 1,000".
create or replace function public.search_relaxations(
  p_me uuid, p_jurisdiction text, p_modalities text[], p_min_level integer, p_format text, p_city text,
  p_languages text[], p_max_fee integer, p_sliding_ok boolean, p_accepting_only boolean, p_times integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
set max_parallel_workers_per_gather = 0
as $$
declare
  wanted text[] := coalesce(p_modalities, '{}');
  langs text[] := coalesce(p_languages, '{}');
  level integer := greatest(1, least(coalesce(p_min_level, 1), 4));
  times integer := coalesce(p_times, 0) & 15;
  competent_in text[] := array(select w || '>=' || level from unnest(coalesce(p_modalities, '{}')) w);
  competent_any text[] := array(select w || '>=1' from unnest(coalesce(p_modalities, '{}')) w);
  blocked uuid[] := array(select c.consultant_id from private.seeker_conflicts(p_me) c where c.level = 'blocking');
  filters text[] := array['jurisdiction', 'modalities', 'format', 'languages', 'fee', 'capacity', 'times'];
  relaxed text;
  kept_out text;
  others text;
  n integer;
  counts jsonb := '[]';
begin
  foreach relaxed in array filters || array['min_level'] loop
    -- Who this filter alone keeps out: they fail it and pass every other.
    kept_out := case relaxed
      when 'min_level' then case when level > 1 and cardinality(wanted) > 0
                                 then 'private.search_places(f.jurisdictions, f.competence) '
                                      '@> private.search_places(array[$1], $12) and not (f.competence @> $2)' end
      when 'modalities' then case when cardinality(wanted) > 0 then 'not (f.competence @> $12)' end
      else 'not coalesce(' || private.search_filter_sql(relaxed, cardinality(wanted), p_format, p_city,
                                                        cardinality(langs), p_max_fee, p_sliding_ok, p_accepting_only,
                                                        times) || ', false)' end;
    continue when kept_out is null;
    select string_agg(c, ' and ') into others
    from (select private.search_filter_sql(name, cardinality(wanted), p_format, p_city, cardinality(langs), p_max_fee,
                                           p_sliding_ok, p_accepting_only, times) c
          from unnest(case when cardinality(wanted) > 0 and relaxed not in ('jurisdiction', 'modalities')
                           then array['places'] || filters[3:] else filters end) name
          where name <> relaxed
            and not (relaxed = 'min_level' and name in ('modalities', 'places', 'jurisdiction'))) x
    where c is not null;
    execute format('select count(*)::int from (select 1 from private.search_facts f '
                   'where f.consultant_id <> $10 and not (f.consultant_id = any ($11)) and %s and %s limit 1001) x',
                   coalesce(others, 'true'), kept_out)
    into n
    using p_jurisdiction, competent_in, wanted, langs, null::text[], p_max_fee, p_sliding_ok, times, p_city, p_me,
          blocked, competent_any;
    if n > 0 then
      counts := counts || jsonb_build_object('filter', relaxed, 'count', n);
    end if;
  end loop;
  return coalesce((select jsonb_agg(c order by (c ->> 'count')::int desc, c ->> 'filter')
                   from jsonb_array_elements(counts) c), '[]');
end;
$$;
