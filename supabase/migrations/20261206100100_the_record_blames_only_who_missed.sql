-- The record blames only who missed (issue 22, item 1).
--
-- A consultant who honestly recorded that the client did not come had it counted on their own public
-- record ("1 of 2 sessions kept"), because a member's sessions were every session they were a party of,
-- on either side. Each fact of a record is now about what the member did in one role:
--
--   * sessions: the sessions held plus the ones this member missed; the other party's absence is on
--     the other party's record only (a client's absence on the client's own record, which nobody else reads);
--   * cancellations: those this member made, on the sessions where they held this role (a client's late
--     cancellation never counts against the consultant, nor a consultant's against the client);
--   * answers and response times: the consultant's answers to requests made to them;
--   * disputed sessions count for neither (status 'disputed' is in no list), as before.
--
-- A consultant's record (search cards, profile, their own Home) is the consultant side. A seeker's own
-- record is the client side, and a consultant who is also someone's client reads that side under
-- `as_client` on their own record only.

-- Invoker: it runs inside the SECURITY DEFINER functions that read records (professionalism_facts,
-- professionalism_record), and no API role may execute it.
create function private.record_facts(p_member uuid, p_side text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  with answered as (
    select extract(epoch from r.responded_at - r.created_at) / 3600.0 as hours
    from public.consultation_requests r
    where p_side = 'consultant' and r.consultant_id = p_member
      and r.responded_at is not null and r.status in ('accepted', 'declined')
  ),
  in_role as (
    select a.* from public.appointments a
    where (p_side = 'consultant' and a.consultant_id = p_member) or (p_side = 'client' and a.client_id = p_member)
  ),
  cancellations as (
    select a.late from in_role a
    where a.cancelled_by = p_member and (a.status = 'cancelled' or (a.status = 'moved' and a.late))
  ),
  sessions as (
    -- Held, or missed by this member: the other party's absence is not this member's session to keep.
    select a.status from in_role a
    where a.status = 'completed'
       or a.status = case p_side when 'consultant' then 'consultant_no_show' else 'no_show' end
  ),
  facts as (
    select p_side as side,
           (select count(*) from answered) as requests_answered,
           (select round(percentile_cont(0.5) within group (order by hours)::numeric, 1) from answered)
             as median_answer_hours,
           (select count(*) from cancellations) as cancellations,
           (select round(avg(case when late then 0 else 1 end)::numeric, 2) from cancellations)
             as cancellations_with_notice_share,
           (select count(*) from sessions) as sessions,
           (select count(*) filter (where status = 'completed') from sessions) as sessions_kept,
           (select count(*) filter (where status <> 'completed') from sessions) as missed
  )
  select to_jsonb(f)
         || jsonb_build_object(case p_side when 'consultant' then 'consultant_no_shows' else 'client_no_shows' end,
                               f.missed,
                               'events', f.requests_answered + f.cancellations + f.sessions,
                               'enough_events', f.requests_answered + f.cancellations + f.sessions >= 5)
  from facts f
$$;
revoke all on function private.record_facts(uuid, text) from public, anon, authenticated;

-- A member's record in their own role: a consultant's as consultant, anyone else's as client.
create or replace function private.professionalism_facts(p_member uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select private.record_facts(p_member, case when p.is_consultant then 'consultant' else 'client' end)
  from public.profiles p
  where p.id = p_member
$$;

create or replace function public.professionalism_record(p_member uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  is_consultant boolean;
  rec jsonb;
  as_client jsonb;
begin
  if me is null then
    raise exception 'Sign in to see records.' using errcode = '42501';
  end if;
  select p.is_consultant into is_consultant from public.profiles p where p.id = p_member;
  -- A seeker's id, an unknown id and a consultant hidden from the caller answer alike.
  if is_consultant is null
     or (p_member <> me and (not is_consultant
         or exists (select 1 from private.conflict_levels(me, array[p_member]) l where l.level = 'blocking'))) then
    raise exception 'No such member.' using errcode = 'PT404';
  end if;
  rec := private.professionalism_facts(p_member);
  if p_member <> me and not (rec ->> 'enough_events')::boolean then
    -- Not shown yet (fewer than 5 events): nothing of it leaves the database.
    return jsonb_build_object('shown', false);
  end if;
  if p_member = me and is_consultant then
    -- A consultant who is also someone's client reads that side too; nobody else ever does.
    as_client := private.record_facts(me, 'client');
    if (as_client ->> 'events')::int > 0 then
      rec := rec || jsonb_build_object('as_client', as_client);
    end if;
  end if;
  return rec || jsonb_build_object('shown', true);
end;
$$;
