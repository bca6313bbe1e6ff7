-- Attendance from both sides.
--
-- Only the consultant could mark a session kept or missed (mark_appointment): a consultant could
-- record a client as a no-show, and the client had no way to say the consultant did not come, so
-- the professionalism record counted clients' missed sessions but never consultants'.
--
-- Now either party states what happened once the session has started (held, client absent,
-- consultant absent, ended early), with an optional note. One statement counts until the other
-- party contests it (they are told at once and can answer on Appointments); when the two differ
-- the session is `disputed`: both see both statements, it counts for neither, and an admin
-- resolves it (audited, both told). A consultant's missed sessions now count on their record,
-- shown on search cards and their profile beside the sessions they kept; a client's record is
-- visible to the client alone.

create table public.attendance_statements (
  appointment_id uuid not null references public.appointments (id) on delete cascade,
  party_id       uuid not null references public.profiles (id) on delete cascade,
  outcome        text not null check (outcome in ('held', 'client_absent', 'consultant_absent', 'ended_early')),
  note           text check (char_length(note) <= 500),
  recorded_at    timestamptz not null default now(),
  primary key (appointment_id, party_id)
);
alter table public.attendance_statements enable row level security;
revoke all on public.attendance_statements from public, anon, authenticated;
grant select on public.attendance_statements to portal_member;
grant all on public.attendance_statements to service_role;
create policy "parties read the statements on their sessions" on public.attendance_statements
  for select to portal_member
  using (exists (select 1 from public.appointments a where a.id = appointment_id));

alter table public.appointments drop constraint appointments_status_check;
alter table public.appointments add constraint appointments_status_check
  check (status in ('requested', 'confirmed', 'declined', 'cancelled', 'moved', 'completed', 'no_show',
                    'consultant_no_show', 'disputed'));
alter table public.appointments
  add column resolved_by uuid references public.profiles (id),
  add column resolved_at timestamptz,
  add column resolution_note text check (char_length(resolution_note) <= 1000);

-- The status a statement stands for, and how a statement reads.
create function private.attendance_status(p_outcome text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case p_outcome when 'held' then 'completed' when 'ended_early' then 'completed'
                        when 'client_absent' then 'no_show' when 'consultant_absent' then 'consultant_no_show' end
$$;
create function private.attendance_words(p_outcome text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case p_outcome when 'held' then 'held' when 'ended_early' then 'ended early'
                        when 'client_absent' then 'the client did not come'
                        when 'consultant_absent' then 'the consultant did not come' end
$$;
revoke all on function private.attendance_status(text), private.attendance_words(text)
  from public, anon, authenticated, service_role;

create function public.record_attendance(p_appointment uuid, p_outcome text, p_note text default null)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  appt public.appointments;
  other uuid;
  theirs public.attendance_statements;
  my_name text;
begin
  select * into appt from public.appointments where id = p_appointment for update;
  if appt.id is null or me is null or me not in (appt.consultant_id, appt.client_id) then
    raise exception 'No such appointment.' using errcode = 'P0002';
  end if;
  if p_outcome is null or p_outcome not in ('held', 'client_absent', 'consultant_absent', 'ended_early') then
    raise exception 'Say what happened: held, the client did not come, the consultant did not come, or ended early.'
      using detail = 'outcome';
  end if;
  if char_length(coalesce(p_note, '')) > 500 then
    raise exception 'The note can be at most 500 characters.' using detail = 'note';
  end if;
  if appt.resolved_by is not null then
    raise exception 'An administrator has already resolved what happened at this session.' using detail = 'status';
  end if;
  if appt.status not in ('confirmed', 'completed', 'no_show', 'consultant_no_show', 'disputed')
     or appt.starts_at > now() then
    raise exception 'Only a confirmed session that has started can be recorded.' using detail = 'status';
  end if;
  insert into public.attendance_statements (appointment_id, party_id, outcome, note)
  values (appt.id, me, p_outcome, nullif(btrim(p_note), ''))
  on conflict (appointment_id, party_id) do update
    set outcome = excluded.outcome, note = excluded.note, recorded_at = now();
  other := case when me = appt.consultant_id then appt.client_id else appt.consultant_id end;
  select * into theirs from public.attendance_statements s where s.appointment_id = appt.id and s.party_id = other;
  my_name := (select display_name from public.profiles where id = me);
  if theirs.party_id is null or theirs.outcome = p_outcome then
    update public.appointments set status = private.attendance_status(p_outcome) where id = appt.id
    returning * into appt;
    if theirs.party_id is null then
      perform private.notify(other, 'attendance_recorded',
                             my_name || ' recorded the session on ' || private.local_time_text(appt.starts_at, other)
                             || ' as: ' || private.attendance_words(p_outcome)
                             || '. If that is not what happened, say so on Appointments.', 'appointments');
    end if;
  else
    update public.appointments set status = 'disputed' where id = appt.id returning * into appt;
    perform private.notify(other, 'attendance_disputed',
                           my_name || ' recorded the session on ' || private.local_time_text(appt.starts_at, other)
                           || ' differently (' || private.attendance_words(p_outcome) || '). It counts for neither '
                           || 'of you until an administrator has looked at it.', 'appointments');
  end if;
  return appt;
end;
$$;
revoke all on function public.record_attendance(uuid, text, text) from public, anon, authenticated;
grant execute on function public.record_attendance(uuid, text, text) to portal_member;

-- The consultant's former one-sided marking is now the consultant's statement.
create or replace function public.mark_appointment(p_appointment uuid, p_outcome text)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.appointments a where a.id = p_appointment and a.consultant_id = auth.uid()) then
    raise exception 'Only the consultant marks a session kept or missed.' using errcode = '42501';
  end if;
  if p_outcome not in ('completed', 'no_show') then
    raise exception 'Mark the session completed or no-show.' using detail = 'outcome';
  end if;
  return public.record_attendance(p_appointment, case p_outcome when 'completed' then 'held' else 'client_absent' end);
end;
$$;

create function public.admin_disputed_sessions()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not public.is_admin() then
    raise exception 'Only administrators can see disputed sessions.' using errcode = '42501';
  end if;
  return coalesce((
    select jsonb_agg(jsonb_build_object(
      'id', a.id, 'starts_at', a.starts_at, 'consultant', pc.display_name, 'client', ps.display_name,
      'statements', (select jsonb_agg(jsonb_build_object(
                       'by', case when s.party_id = a.consultant_id then 'consultant' else 'client' end,
                       'outcome', s.outcome, 'note', s.note, 'recorded_at', s.recorded_at) order by s.recorded_at)
                     from public.attendance_statements s where s.appointment_id = a.id))
      order by a.starts_at)
    from public.appointments a
    join public.profiles pc on pc.id = a.consultant_id
    join public.profiles ps on ps.id = a.client_id
    where a.status = 'disputed'), '[]');
end;
$$;
revoke all on function public.admin_disputed_sessions() from public, anon, authenticated;
grant execute on function public.admin_disputed_sessions() to portal_member;

create function public.admin_resolve_attendance(p_appointment uuid, p_outcome text, p_note text)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  appt public.appointments;
  party uuid;
begin
  if not public.is_admin() then
    raise exception 'Only administrators resolve disputed sessions.' using errcode = '42501';
  end if;
  select * into appt from public.appointments where id = p_appointment for update;
  if appt.id is null or appt.status <> 'disputed' then
    raise exception 'This session is not disputed.' using errcode = 'P0002';
  end if;
  if p_outcome is null or p_outcome not in ('held', 'client_absent', 'consultant_absent', 'ended_early') then
    raise exception 'Choose what happened.' using detail = 'outcome';
  end if;
  if char_length(btrim(coalesce(p_note, ''))) < 10 then
    raise exception 'Say briefly how you decided (at least 10 characters); both parties read it.' using detail = 'note';
  end if;
  update public.appointments
  set status = private.attendance_status(p_outcome), resolved_by = auth.uid(), resolved_at = now(),
      resolution_note = btrim(p_note)
  where id = appt.id returning * into appt;
  insert into public.audit_log (actor_id, action, detail)
  values (auth.uid(), 'attendance_resolved',
          jsonb_build_object('appointment', appt.id, 'outcome', p_outcome, 'note', btrim(p_note)));
  foreach party in array array[appt.consultant_id, appt.client_id] loop
    perform private.notify(party, 'attendance_resolved',
                           'An administrator resolved the disputed session on '
                           || private.local_time_text(appt.starts_at, party) || ': '
                           || private.attendance_words(p_outcome) || '. ' || btrim(p_note), 'appointments');
  end loop;
  return appt;
end;
$$;
revoke all on function public.admin_resolve_attendance(uuid, text, text) from public, anon, authenticated;
grant execute on function public.admin_resolve_attendance(uuid, text, text) to portal_member;

-- Appointments list both statements beside each session.
drop function public.my_appointments(timestamptz, timestamptz);
create function public.my_appointments(p_from timestamptz default null, p_to timestamptz default null)
returns table (id uuid, other_id uuid, other_name text, my_role text, starts_at timestamptz, ends_at timestamptz,
               status text, requested_by_me boolean, decline_reason text, cancel_reason text,
               cancelled_by_me boolean, notice_hours numeric, late boolean, rescheduled_from uuid,
               other_timezone text, my_statement text, their_statement text, their_note text,
               resolution_note text)
language sql
stable
set search_path = ''
as $$
  select a.id,
         case when a.consultant_id = auth.uid() then a.client_id else a.consultant_id end,
         p.display_name,
         case when a.consultant_id = auth.uid() then 'consultant' else 'client' end,
         a.starts_at, a.ends_at, a.status, a.requested_by = auth.uid(), a.decline_reason, a.cancel_reason,
         a.cancelled_by = auth.uid(), a.notice_hours, a.late, a.rescheduled_from, p.timezone,
         mine.outcome, theirs.outcome, theirs.note, a.resolution_note
  from public.appointments a
  join public.profiles p on p.id = case when a.consultant_id = auth.uid() then a.client_id else a.consultant_id end
  left join public.attendance_statements mine on mine.appointment_id = a.id and mine.party_id = auth.uid()
  left join public.attendance_statements theirs on theirs.appointment_id = a.id and theirs.party_id = p.id
  where auth.uid() in (a.consultant_id, a.client_id)
    and (p_from is null or a.ends_at >= p_from) and (p_to is null or a.starts_at < p_to)
  order by a.starts_at, a.id
$$;
revoke all on function public.my_appointments(timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function public.my_appointments(timestamptz, timestamptz) to portal_member;

-- The record counts what both sides stand by: disputed sessions count for neither, and a
-- consultant's missed sessions count against them. A move counts against the mover only when it
-- was late (20261129000300), as a late cancellation would.
create or replace function private.professionalism_facts(p_member uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with answered as (
    select extract(epoch from r.responded_at - r.created_at) / 3600.0 as hours
    from public.consultation_requests r
    where r.consultant_id = p_member and r.responded_at is not null and r.status in ('accepted', 'declined')
  ),
  cancellations as (
    select a.late from public.appointments a
    where a.cancelled_by = p_member and (a.status = 'cancelled' or (a.status = 'moved' and a.late))
  ),
  sessions as (
    select a.status,
           case when a.consultant_id = p_member then 'consultant' else 'client' end as side
    from public.appointments a
    where (a.consultant_id = p_member or a.client_id = p_member)
      and a.status in ('completed', 'no_show', 'consultant_no_show')
  ),
  facts as (
    select (select count(*) from answered) as requests_answered,
           (select round(percentile_cont(0.5) within group (order by hours)::numeric, 1) from answered)
             as median_answer_hours,
           (select count(*) from cancellations) as cancellations,
           (select round(avg(case when late then 0 else 1 end)::numeric, 2) from cancellations)
             as cancellations_with_notice_share,
           (select count(*) from sessions) as sessions,
           (select count(*) filter (where status = 'completed') from sessions) as sessions_kept,
           (select count(*) filter (where status = 'no_show' and side = 'client') from sessions) as client_no_shows,
           (select count(*) filter (where status = 'consultant_no_show' and side = 'consultant') from sessions)
             as consultant_no_shows
  )
  select to_jsonb(f) || jsonb_build_object(
           'events', f.requests_answered + f.cancellations + f.sessions,
           'enough_events', f.requests_answered + f.cancellations + f.sessions >= 5)
  from facts f
$$;

-- A client's record is theirs alone: no consultant reads it, not even their own. A consultant's
-- record resting on fewer than 5 events is not shown to others, and now nothing of it is returned
-- (it returned every fact beside `shown: false`).
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
begin
  if me is null then
    raise exception 'Sign in to see records.' using errcode = '42501';
  end if;
  select p.is_consultant into is_consultant from public.profiles p where p.id = p_member;
  if is_consultant is null then
    raise exception 'No such member.' using errcode = 'P0002';
  end if;
  if p_member <> me and not is_consultant then
    raise exception 'A client''s record is visible only to them.' using errcode = '42501';
  end if;
  rec := private.professionalism_facts(p_member);
  if p_member <> me and not (rec ->> 'enough_events')::boolean then
    -- Not shown yet (fewer than 5 events): nothing of it leaves the database.
    return jsonb_build_object('shown', false);
  end if;
  return rec || jsonb_build_object('shown', true);
end;
$$;
