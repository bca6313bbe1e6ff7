-- Records read from kept facts (issue 25, item 1).
--
-- Every card of Find a consultant showed its consultant's professionalism record, computed from their
-- appointments and answered requests on every call (public.consultant_records: 20 cards, 20 recomputations,
-- p50 18.8 ms of a page's 32 at 50,000 consultants). The facts now live in private.record_facts_kept, one row per
-- member and side, written by the same private.record_facts in the statement that changes what they count:
--
--   * appointments: a row counts on a side's record when it is held ('completed'), missed by that side
--     ('consultant_no_show' / 'no_show') or cancelled by that side ('cancelled', or 'moved' late); an insert, a
--     delete (an account's or an engagement's cascade too) or a change of status, lateness, who cancelled or the
--     parties recomputes each side whose rows counted before or count after;
--   * consultation requests: answered ones (accepted or declined, with an answer time) count on the consultant's.
--
-- A change that counts on no record (a booking, a confirmation, a decline, a reminder) recomputes nothing. Two
-- transactions changing one member's facts recompute one after the other (an advisory lock per member and side,
-- held to commit): the second reads what the first committed. A member with no row has no facts yet (zeros).

create table private.record_facts_kept (
  member_id  uuid not null references public.profiles (id) on delete cascade,
  side       text not null check (side in ('consultant', 'client')),
  facts      jsonb not null,  -- exactly private.record_facts(member_id, side)
  primary key (member_id, side)
);
alter table private.record_facts_kept enable row level security;
revoke all on private.record_facts_kept from public, anon, authenticated, service_role;

-- Whether an appointment counts on the record of its consultant or client (private.record_facts' own lists).
create function private.appointment_counts_on_record(
  p_side text, p_status text, p_late boolean, p_cancelled_by uuid, p_member uuid)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select p_status = 'completed'
      or p_status = case p_side when 'consultant' then 'consultant_no_show' else 'no_show' end
      or (p_cancelled_by = p_member and (p_status = 'cancelled' or (p_status = 'moved' and p_late)))
$$;
revoke all on function private.appointment_counts_on_record(text, text, boolean, uuid, uuid)
  from public, anon, authenticated;

-- Recompute these members' facts on these sides (arrays of one length, pair by pair). Locks first, so every
-- statement after it reads what other transactions committed by then; many at once (a bulk load, the first fill)
-- take one lock over all facts instead of thousands. Members who no longer exist keep no row.
create function private.refresh_record_facts(p_members uuid[], p_sides text[])
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  many boolean := cardinality(p_members) > 500;
begin
  if coalesce(cardinality(p_members), 0) = 0 then
    return;
  end if;
  if many then
    perform pg_advisory_xact_lock(hashtextextended('record_facts', 0));
  else
    perform pg_advisory_xact_lock_shared(hashtextextended('record_facts', 0));
    perform pg_advisory_xact_lock(keys.k)
    from (select distinct hashtextextended('record_facts:' || t.m::text || ':' || t.s, 0) as k
          from unnest(p_members, p_sides) as t(m, s) order by 1) keys;
  end if;
  insert into private.record_facts_kept as f (member_id, side, facts)
  select t.m, t.s, private.record_facts(t.m, t.s)
  from (select distinct m, s from unnest(p_members, p_sides) as t(m, s)) t
  where exists (select 1 from public.profiles p where p.id = t.m)
  on conflict (member_id, side) do update set facts = excluded.facts
  where f.facts is distinct from excluded.facts;
end;
$$;
revoke all on function private.refresh_record_facts(uuid[], text[]) from public, anon, authenticated;

-- After each statement on appointments: the sides whose rows counted before or count after it.
create function private.record_facts_note_appointments()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  members uuid[];
  sides text[];
begin
  if tg_op = 'INSERT' then
    select array_agg(c.m), array_agg(c.s) into members, sides
    from new_rows r
    cross join lateral (values (r.consultant_id, 'consultant'), (r.client_id, 'client')) as c(m, s)
    where private.appointment_counts_on_record(c.s, r.status, r.late, r.cancelled_by, c.m);
  elsif tg_op = 'DELETE' then
    select array_agg(c.m), array_agg(c.s) into members, sides
    from old_rows r
    cross join lateral (values (r.consultant_id, 'consultant'), (r.client_id, 'client')) as c(m, s)
    where private.appointment_counts_on_record(c.s, r.status, r.late, r.cancelled_by, c.m);
  else
    with changed as (
      select o.status as o_status, o.late as o_late, o.cancelled_by as o_by,
             o.consultant_id as o_consultant, o.client_id as o_client,
             n.status as n_status, n.late as n_late, n.cancelled_by as n_by,
             n.consultant_id as n_consultant, n.client_id as n_client
      from old_rows o join new_rows n on n.id = o.id
      where (o.status, o.late, o.cancelled_by, o.consultant_id, o.client_id)
            is distinct from (n.status, n.late, n.cancelled_by, n.consultant_id, n.client_id)
    )
    select array_agg(c.m), array_agg(c.s) into members, sides
    from changed r
    cross join lateral (values (r.o_consultant, 'consultant', r.o_status, r.o_late, r.o_by),
                               (r.o_client, 'client', r.o_status, r.o_late, r.o_by),
                               (r.n_consultant, 'consultant', r.n_status, r.n_late, r.n_by),
                               (r.n_client, 'client', r.n_status, r.n_late, r.n_by)) as c(m, s, status, late, by_whom)
    where private.appointment_counts_on_record(c.s, c.status, c.late, c.by_whom, c.m);
  end if;
  perform private.refresh_record_facts(members, sides);
  return null;
end;
$$;
revoke all on function private.record_facts_note_appointments() from public, anon, authenticated;

create trigger appointments_record_facts_insert after insert on public.appointments
  referencing new table as new_rows for each statement execute function private.record_facts_note_appointments();
create trigger appointments_record_facts_update after update on public.appointments
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.record_facts_note_appointments();
create trigger appointments_record_facts_delete after delete on public.appointments
  referencing old table as old_rows for each statement execute function private.record_facts_note_appointments();

-- After each statement on consultation requests: the consultants whose answered requests it added, changed or
-- removed (private.record_facts' `answered`).
create function private.record_facts_note_requests()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  members uuid[];
begin
  if tg_op = 'INSERT' then
    select array_agg(r.consultant_id) into members
    from new_rows r where r.responded_at is not null and r.status in ('accepted', 'declined');
  elsif tg_op = 'DELETE' then
    select array_agg(r.consultant_id) into members
    from old_rows r where r.responded_at is not null and r.status in ('accepted', 'declined');
  else
    select array_agg(c.m) into members
    from old_rows o join new_rows n on n.id = o.id
    cross join lateral (values (o.consultant_id, o.status, o.responded_at),
                               (n.consultant_id, n.status, n.responded_at)) as c(m, status, responded_at)
    where (o.status, o.responded_at, o.created_at, o.consultant_id)
          is distinct from (n.status, n.responded_at, n.created_at, n.consultant_id)
      and c.responded_at is not null and c.status in ('accepted', 'declined');
  end if;
  if members is not null then
    perform private.refresh_record_facts(members, array_fill('consultant'::text, array[cardinality(members)]));
  end if;
  return null;
end;
$$;
revoke all on function private.record_facts_note_requests() from public, anon, authenticated;

create trigger requests_record_facts_insert after insert on public.consultation_requests
  referencing new table as new_rows for each statement execute function private.record_facts_note_requests();
create trigger requests_record_facts_update after update on public.consultation_requests
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.record_facts_note_requests();
create trigger requests_record_facts_delete after delete on public.consultation_requests
  referencing old table as old_rows for each statement execute function private.record_facts_note_requests();

-- Every member's and side's facts made afresh: the first fill below, and a bulk load that switched the triggers
-- off (bench/slots.py, as bench/generate.py does for the search facts).
create function private.refresh_all_record_facts()
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  delete from private.record_facts_kept;
  select private.refresh_record_facts(array_agg(m), array_agg(s))
  from (
    select a.consultant_id as m, 'consultant' as s from public.appointments a
    where private.appointment_counts_on_record('consultant', a.status, a.late, a.cancelled_by, a.consultant_id)
    union
    select a.client_id, 'client' from public.appointments a
    where private.appointment_counts_on_record('client', a.status, a.late, a.cancelled_by, a.client_id)
    union
    select r.consultant_id, 'consultant' from public.consultation_requests r
    where r.responded_at is not null and r.status in ('accepted', 'declined')
  ) everyone;
$$;
revoke all on function private.refresh_all_record_facts() from public, anon, authenticated;

select private.refresh_all_record_facts();

-- A member's record in their own role, read from the kept facts (none kept: nothing on record yet, the same zeros
-- private.record_facts answers).
create or replace function private.professionalism_facts(p_member uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select k.facts from private.record_facts_kept k where k.member_id = p.id and k.side = s.side),
                  private.record_facts(p_member, s.side))
  from public.profiles p
  cross join lateral (select case when p.is_consultant then 'consultant' else 'client' end as side) s
  where p.id = p_member
$$;

-- The cards' records: one index probe per card into the kept facts.
create or replace function public.consultant_records(p_consultants uuid[])
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if cardinality(p_consultants) > 50 then
    raise exception 'Ask for at most 50 consultants'' records at once.' using detail = 'consultants';
  end if;
  return (
    select coalesce(jsonb_object_agg(p.id, k.facts), '{}')
    from public.profiles p
    join private.record_facts_kept k on k.member_id = p.id and k.side = 'consultant'
    where p.id = any (p_consultants[1:50]) and p.is_consultant and (k.facts ->> 'enough_events')::boolean);
end;
$$;
