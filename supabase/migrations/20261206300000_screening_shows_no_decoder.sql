-- No decoder, no side door, bounded inputs (issue 23, items 1, 7 and 9).
--
-- 1. No decoder. A matched screening kept one reason per matching row, and each party was shown
--    one line per hidden reason and the dates of each of their own matching entries. A member who
--    declared guess i 2^i times (or one organisation with many periods) and sent one request read
--    the other side's secrets from the number of lines and from which of their own entries
--    matched. Now:
--    * what a party is shown no longer depends on how many rows matched, nor on which
--      (private.disclosed_reasons, in 20261206300100 since it reads the kept reasons): see there;
--    * a member keeps at most 100 declared relationships and 40 affiliations, and one
--      organisation is one affiliation (same normalised name, or same email domain): a second
--      entry is refused with a sentence naming the one already there. Triggers on the tables,
--      so the rule holds for every write a member makes, through the functions or the tables
--      alike. Writes with no member signed in (the demo world; the benchmark's generated worlds
--      of up to 500,000 consultants, loaded by the owner) are the portal's own: not checked.
-- 7. No side door. A direct insert into declared_relationships naming a member the declarer may
--    not see was accepted (a foreign key ignores row-level security), and export_my_data then
--    returned that member's name. The same trigger checks, as the writer, that a named member is
--    one the writer may see (the profiles policy decides, as add_my_relationship's own check
--    does); the export names only the people the member may see.
-- 9. Bounds. Every text a member sends to the search and screening functions is bounded with the
--    sentence its field shows: a declaration's name (120), email (254), organisation (120), role
--    (80) and email domain (253); a search's city (80); a name search's query (80, in
--    find_consultants and referral_candidates); a waiver's rationale (2,000).

-- ---------------------------------------------------------------------------
-- Declarations: bounded, one organisation one entry, only people the writer may see
-- ---------------------------------------------------------------------------
create function private.relationships_stay_few_and_visible()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if auth.uid() is null then
    return new;  -- the portal's own loads (demo world, benchmark worlds): no member is writing
  end if;
  if char_length(new.counterpart_name) > 120 then
    raise exception 'Give the name in at most 120 characters.' using detail = 'counterpart_name';
  end if;
  if char_length(new.counterpart_email) > 254 then
    raise exception 'Give an email address of at most 254 characters.' using detail = 'counterpart_email';
  end if;
  -- Run as the writer: the profiles policy decides who they may name (a foreign key would not).
  if new.counterpart_id is not null
     and (tg_op = 'INSERT' or new.counterpart_id is distinct from old.counterpart_id)
     and not exists (select 1 from public.profiles p where p.id = new.counterpart_id) then
    raise exception 'Pick the person from the list, or give a name and email.' using detail = 'counterpart';
  end if;
  if tg_op = 'INSERT' then
    -- One writer at a time per member, so two parallel adds cannot both pass the count.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('declared_relationships'),
                                             pg_catalog.hashtext(new.declarer_id::text));
    if (select count(*) from public.declared_relationships d where d.declarer_id = new.declarer_id) >= 100 then
      raise exception 'You can keep at most 100 declared relationships; remove ones that no longer apply first.'
        using detail = 'relationships';
    end if;
  end if;
  return new;
end;
$$;
revoke all on function private.relationships_stay_few_and_visible() from public, anon, authenticated;
create trigger relationships_stay_few_and_visible before insert or update on public.declared_relationships
  for each row execute function private.relationships_stay_few_and_visible();

create function private.affiliations_stay_few_and_one_per_organisation()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  already text;
begin
  if auth.uid() is null then
    return new;  -- the portal's own loads (demo world, benchmark worlds): no member is writing
  end if;
  if char_length(new.organisation) > 120 then
    raise exception 'Name the organisation (2 to 120 characters).' using detail = 'organisation';
  end if;
  if char_length(new.role) > 80 then
    raise exception 'Give your role in at most 80 characters.' using detail = 'role';
  end if;
  if char_length(new.email_domain) > 253 then
    raise exception 'Give an email domain of at most 253 characters.' using detail = 'email_domain';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('affiliations'),
                                           pg_catalog.hashtext(new.member_id::text));
  -- One organisation is one entry, known by its normalised name or its email domain: several
  -- periods of one organisation would let a member read, from which matched, the other's dates.
  select a.organisation into already
  from public.affiliations a
  where a.member_id = new.member_id and a.id <> new.id
    and (a.organisation_key = public.normalise_organisation(new.organisation)
         or a.email_domain = lower(btrim(new.email_domain)))
  limit 1;
  if already is not null then
    raise exception 'You already list %; an organisation is listed once, with one period. Remove it and add it again with the whole period.',
      already
      using detail = 'organisation';
  end if;
  if tg_op = 'INSERT'
     and (select count(*) from public.affiliations a where a.member_id = new.member_id) >= 40 then
    raise exception 'You can keep at most 40 affiliations; remove ones that no longer apply first.'
      using detail = 'affiliations';
  end if;
  return new;
end;
$$;
revoke all on function private.affiliations_stay_few_and_one_per_organisation() from public, anon, authenticated;
create trigger affiliations_stay_few_and_one_per_organisation before insert or update on public.affiliations
  for each row execute function private.affiliations_stay_few_and_one_per_organisation();

-- ---------------------------------------------------------------------------
-- The export names only the people the member may see
-- ---------------------------------------------------------------------------
create or replace function public.export_my_data()
 returns jsonb
 language sql
 stable security definer
 set search_path to ''
as $function$
  with me as (select auth.uid() as id)
  select jsonb_build_object(
    'exported_at', now(),
    'account', (select jsonb_build_object('username', c.username, 'email', c.email, 'created_at', c.created_at)
                from private.credentials c, me where c.user_id = me.id),
    'profile', (select to_jsonb(p) from public.profiles p, me where p.id = me.id),
    'licenses', coalesce((select jsonb_agg(to_jsonb(l)) from public.licenses l, me where l.profile_id = me.id), '[]'),
    'competencies', coalesce((select jsonb_agg(to_jsonb(c)) from public.competencies c, me
                              where c.consultant_id = me.id), '[]'),
    'availability_settings', (select to_jsonb(s) from public.availability_settings s, me
                              where s.consultant_id = me.id),
    'weekly_hours', coalesce((select jsonb_agg(to_jsonb(h)) from public.weekly_hours h, me
                              where h.consultant_id = me.id), '[]'),
    'date_overrides', coalesce((select jsonb_agg(to_jsonb(o)) from public.date_overrides o, me
                                where o.consultant_id = me.id), '[]'),
    'time_off', coalesce((select jsonb_agg(to_jsonb(t)) from public.time_off t, me where t.consultant_id = me.id),
                         '[]'),
    'affiliations', coalesce((select jsonb_agg(to_jsonb(a)) from public.affiliations a, me
                              where a.member_id = me.id), '[]'),
    'declared_relationships', coalesce((select jsonb_agg(to_jsonb(d)) from public.declared_relationships d, me
                                        where d.declarer_id = me.id), '[]'),
    'consultation_requests', coalesce((select jsonb_agg(to_jsonb(r)) from public.consultation_requests r, me
                                       where me.id in (r.seeker_id, r.consultant_id)), '[]'),
    'engagements', coalesce((select jsonb_agg(to_jsonb(e)) from public.engagements e, me
                             where me.id in (e.seeker_id, e.consultant_id)), '[]'),
    'appointments', coalesce((select jsonb_agg(to_jsonb(a)) from public.appointments a, me
                              where me.id in (a.consultant_id, a.client_id)), '[]'),
    'termination_plans', coalesce((select jsonb_agg(to_jsonb(p)) from public.termination_plans p, me
                                   where me.id in (p.seeker_id, p.consultant_id)), '[]'),
    'termination_plan_versions', coalesce((select jsonb_agg(to_jsonb(v) - 'initiated_by')
                                           from public.termination_plan_versions v
                                           join public.termination_plans p on p.id = v.plan_id, me
                                           where me.id in (p.seeker_id, p.consultant_id)), '[]'),
    'termination_signatures', coalesce((select jsonb_agg(to_jsonb(s)) from public.termination_signatures s, me
                                        where s.signer_id = me.id), '[]'),
    'conflict_waivers', coalesce((select jsonb_agg(jsonb_build_object(
                                    'with', case when w.seeker_id = me.id then w.consultant_id else w.seeker_id end,
                                    'my_rationale', case when w.seeker_id = me.id then w.seeker_rationale
                                                         else w.consultant_rationale end,
                                    'i_signed_at', case when w.seeker_id = me.id then w.seeker_signed_at
                                                        else w.consultant_signed_at end))
                                  from public.conflict_waivers w, me
                                  where me.id in (w.seeker_id, w.consultant_id)), '[]'),
    'screening_log', coalesce((select jsonb_agg(jsonb_build_object('created_at', l.created_at, 'context', l.context,
                                                                   'level', l.level, 'checked_by_me',
                                                                   l.checked_by = me.id))
                               from public.screening_log l, me
                               where l.checked_by = me.id
                                  or (me.id in (l.seeker_id, l.consultant_id)
                                      and l.context in ('on_demand', 'request', 'accept'))), '[]'),
    'notifications', coalesce((select jsonb_agg(to_jsonb(n)) from public.notifications n, me
                               where n.user_id = me.id), '[]'),
    -- Who the ids above are: the members your records name (the other party of each request,
    -- engagement, session, plan and waiver, and the consultants you declared a relationship
    -- with), by the name the portal shows you. Nobody else: a declaration naming a member you may
    -- not see (the profiles policy: yourself, consultants, those who asked you) names nobody.
    'people', coalesce((select jsonb_agg(jsonb_build_object('id', p.id, 'display_name', p.display_name)
                                         order by p.display_name, p.id)
                        from public.profiles p
                        where p.id in (
                          select d.counterpart_id from public.declared_relationships d
                          join public.profiles seen on seen.id = d.counterpart_id, me
                          where d.declarer_id = me.id
                            and (seen.is_consultant
                                 or exists (select 1 from public.consultation_requests r
                                            where r.seeker_id = seen.id and r.consultant_id = me.id))
                          union select case when r.seeker_id = me.id then r.consultant_id else r.seeker_id end
                          from public.consultation_requests r, me where me.id in (r.seeker_id, r.consultant_id)
                          union select case when e.seeker_id = me.id then e.consultant_id else e.seeker_id end
                          from public.engagements e, me where me.id in (e.seeker_id, e.consultant_id)
                          union select case when a.client_id = me.id then a.consultant_id else a.client_id end
                          from public.appointments a, me where me.id in (a.consultant_id, a.client_id)
                          union select case when t.seeker_id = me.id then t.consultant_id else t.seeker_id end
                          from public.termination_plans t, me where me.id in (t.seeker_id, t.consultant_id)
                          union select case when w.seeker_id = me.id then w.consultant_id else w.seeker_id end
                          from public.conflict_waivers w, me where me.id in (w.seeker_id, w.consultant_id))), '[]'))
$function$;

-- ---------------------------------------------------------------------------
-- Bounded texts in the name searches and the waiver
-- ---------------------------------------------------------------------------
create or replace function public.find_consultants(p_query text)
returns table (id uuid, display_name text)
language plpgsql
stable
set search_path = ''
as $$
begin
  if char_length(p_query) > 80 then
    raise exception 'Search by name with at most 80 characters.' using detail = 'query';
  end if;
  return query
    select p.id, p.display_name from public.profiles p
    where p.is_consultant and p.id <> auth.uid() and char_length(btrim(p_query)) >= 2
      and p.display_name ilike '%' || btrim(p_query) || '%'
    order by p.display_name, p.id
    limit 20;
end;
$$;

create or replace function public.referral_candidates(p_engagement uuid, p_query text)
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
  if char_length(p_query) > 80 then
    raise exception 'Search by name with at most 80 characters.' using detail = 'query';
  end if;
  select * into eng from public.engagements e where e.id = p_engagement;
  if eng.id is null or auth.uid() not in (eng.seeker_id, eng.consultant_id) then
    raise exception 'No such engagement.' using errcode = 'PT404';
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

-- The waiver's rationale: its latest definition with the upper bound checked before any work.
CREATE OR REPLACE FUNCTION public.sign_waiver(p_other uuid, p_rationale text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
  if char_length(btrim(p_rationale)) > 2000 then
    raise exception 'Write your rationale in at most 2,000 characters.' using detail = 'rationale';
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
$function$;

-- The search: 20261129002700's definition with the city bounded.
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
  -- Bounded text (20261206300000): a city is at most what a profile may hold.
  if char_length(p_city) > 80 then
    raise exception 'Name a city in at most 80 characters.' using detail = 'city';
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
