-- A session keeps the cancellation policy it was booked under (issue 22, item 3).
--
-- Lateness was read from the consultant's settings at the moment of cancelling: a consultant who set the
-- threshold to 0 and cancelled 5 hours ahead was recorded as cancelling in good time, and one who raised it to
-- 168 hours turned a client's cancellation 61 hours ahead into a late one. The terms in force when a session
-- was agreed now travel with it:
--
--   * appointments.late_cancel_hours is the threshold the session was booked under, set by a trigger on every
--     insert, whichever door books it (book_appointment, the new session of a move, anything written later);
--     the new session of a move keeps the moved session's threshold, as it keeps its calendar event (a move is
--     not a new agreement). Existing sessions take the threshold in force today. A later change of the
--     consultant's policy applies to sessions booked after it.
--   * private.lateness states the rule once: late is a confirmed session cancelled or moved less than its own
--     threshold before it starts, decided on the exact notice, recorded rounded down; and its words.
--   * a trigger on the state applies it whenever a session becomes cancelled or moved, whichever door does it
--     (a member's cancel or move, an admin's account closure, a member's own deletion...), so no door can
--     record lateness by another rule.
--   * cancel_appointment and reschedule_appointment warn by the session's own threshold; my_appointments
--     returns it, so the page states each session's own rule.
--
-- The minimum booking notice is not stored: it governs only whether a new time can be booked, which is the
-- consultant's policy at the moment of that booking.

alter table public.appointments add column late_cancel_hours integer;
update public.appointments a
set late_cancel_hours = coalesce((select s.late_cancel_hours from public.availability_settings s
                                  where s.consultant_id = a.consultant_id), 24);
alter table public.appointments
  alter column late_cancel_hours set not null,
  add constraint appointments_late_cancel_hours_range check (late_cancel_hours between 0 and 168);
comment on column public.appointments.late_cancel_hours is
  'The late-cancellation threshold (hours) the session was booked under; set on insert, kept by a move.';

-- The terms a session is booked under: the consultant's policy now, or the moved session's own terms.
-- (Trigger functions run as the writer: members cannot write appointments, only the SECURITY DEFINER doors can.)
create function private.session_keeps_its_booking_terms()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    new.late_cancel_hours := coalesce((select s.late_cancel_hours from public.availability_settings s
                                       where s.consultant_id = new.consultant_id), 24);
  end if;
  if new.rescheduled_from is not null
     and (tg_op = 'INSERT' or new.rescheduled_from is distinct from old.rescheduled_from) then
    new.late_cancel_hours := (select a.late_cancel_hours from public.appointments a
                              where a.id = new.rescheduled_from);
  elsif tg_op = 'UPDATE' then
    new.late_cancel_hours := old.late_cancel_hours;  -- agreed terms do not change afterwards
  end if;
  return new;
end;
$$;
revoke all on function private.session_keeps_its_booking_terms() from public, anon, authenticated;
create trigger appointments_keep_their_booking_terms
  before insert or update of late_cancel_hours, rescheduled_from on public.appointments
  for each row execute function private.session_keeps_its_booking_terms();

-- The lateness rule and its words, once. `notice` is what is recorded and shown: rounded down, never up
-- (15.96 hours is 15.9, inside a 16-hour threshold, not 16.0 outside it).
create function private.lateness(p_session public.appointments, p_at timestamptz default now(),
                                 out hours numeric, out notice numeric, out late boolean, out threshold integer,
                                 out late_words text)
language plpgsql
stable
set search_path = ''
as $$
begin
  threshold := p_session.late_cancel_hours;
  hours := extract(epoch from p_session.starts_at - p_at) / 3600.0;
  notice := round(floor(hours * 10) / 10, 1);
  late := hours < threshold and p_session.status = 'confirmed';
  late_words := case when not late then ''
                     when notice < 1 then ' (late: less than an hour''s notice)'
                     when notice < 2 then ' (late: 1 hour''s notice)'
                     else ' (late: ' || floor(notice) || ' hours'' notice)' end;
end;
$$;
revoke all on function private.lateness(public.appointments, timestamptz) from public, anon, authenticated;

-- Whichever door cancels or moves an upcoming session, its lateness is the session's own rule.
create function private.cancellation_judged_by_its_own_terms()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  judged record;
begin
  if new.status in ('cancelled', 'moved') and old.status in ('requested', 'confirmed') then
    judged := private.lateness(old, coalesce(new.cancelled_at, now()));
    new.notice_hours := judged.notice;
    new.late := judged.late;
  end if;
  return new;
end;
$$;
revoke all on function private.cancellation_judged_by_its_own_terms() from public, anon, authenticated;
create trigger appointments_cancellation_judged_by_its_own_terms
  before update of status on public.appointments
  for each row execute function private.cancellation_judged_by_its_own_terms();

create or replace function public.cancel_appointment(p_appointment uuid, p_reason text,
                                                     p_accept_late boolean default false)
returns public.appointments
language plpgsql
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  appt public.appointments;
  judged record;
begin
  select * into appt from public.appointments where id = p_appointment for update;
  if appt.id is null or me not in (appt.consultant_id, appt.client_id) then
    raise exception 'No such appointment.' using errcode = 'PT404';
  end if;
  if appt.status not in ('requested', 'confirmed') then
    raise exception 'Only an upcoming session can be cancelled.' using detail = 'status';
  end if;
  if char_length(btrim(coalesce(p_reason, ''))) = 0 then
    raise exception 'Give a reason for cancelling.' using detail = 'reason';
  end if;
  if appt.starts_at <= now() then
    raise exception 'This session has already started.' using detail = 'status';
  end if;
  -- The session's own threshold, the one it was booked under.
  judged := private.lateness(appt);
  if judged.late and not coalesce(p_accept_late, false) then
    raise exception 'This is a late cancellation: % hours before the session, inside the %-hour threshold '
                    'it was booked under.', judged.notice, judged.threshold
      using detail = 'late', hint = 'Confirm to cancel anyway; it will be recorded as late.';
  end if;
  update public.appointments
  set status = 'cancelled', cancelled_by = me, cancelled_at = now(), cancel_reason = btrim(p_reason)
  where id = appt.id returning * into appt;  -- notice and lateness: the state's trigger, by the same rule
  perform private.notify(case when me = appt.consultant_id then appt.client_id else appt.consultant_id end,
                         case when appt.late then 'late_cancellation' else 'cancelled' end,
                         (select display_name from public.profiles where id = me) || ' cancelled the session on '
                         || private.local_time_text(appt.starts_at, case when me = appt.consultant_id
                                                                         then appt.client_id
                                                                         else appt.consultant_id end)
                         || judged.late_words || ': ' || appt.cancel_reason, 'appointments');
  return appt;
end;
$$;

create or replace function public.reschedule_appointment(p_appointment uuid, p_new_starts_at timestamptz,
                                                         p_reason text, p_accept_late boolean default false)
returns public.appointments
language plpgsql
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  old_appt public.appointments;
  new_appt public.appointments;
  other uuid;
  judged record;
begin
  select * into old_appt from public.appointments where id = p_appointment for update;
  if old_appt.id is null or me is null or me not in (old_appt.consultant_id, old_appt.client_id) then
    raise exception 'No such appointment.' using errcode = 'PT404';
  end if;
  if old_appt.status not in ('requested', 'confirmed') then
    raise exception 'Only an upcoming session can be moved.' using detail = 'status';
  end if;
  if char_length(btrim(coalesce(p_reason, ''))) = 0 then
    raise exception 'Give a reason for moving the session.' using detail = 'reason';
  end if;
  if old_appt.starts_at <= now() then
    raise exception 'This session has already started.' using detail = 'status';
  end if;
  if p_new_starts_at = old_appt.starts_at then
    raise exception 'Pick a different time to move the session to.' using detail = 'slot';
  end if;
  if (old_appt.engagement_id is not null and not exists (
        select 1 from public.engagements e where e.id = old_appt.engagement_id and e.status = 'active'))
     or (old_appt.request_id is not null and not exists (
        select 1 from public.consultation_requests r where r.id = old_appt.request_id and r.status = 'pending')) then
    raise exception 'This session can no longer be moved: the work it belongs to has ended or been answered.'
      using detail = 'status', hint = 'Cancel it instead, or book within your current engagement.';
  end if;
  -- Late is decided as for a cancellation, by the session's own threshold.
  judged := private.lateness(old_appt);
  if judged.late and not coalesce(p_accept_late, false) then
    raise exception 'This is a late move: % hours before the session, inside the %-hour threshold '
                    'it was booked under.', judged.notice, judged.threshold
      using detail = 'late', hint = 'Confirm to move it anyway; it will be recorded as a late cancellation.';
  end if;
  update public.appointments
  set status = 'moved', cancelled_by = me, cancelled_at = now(), cancel_reason = btrim(p_reason)
  where id = old_appt.id;
  new_appt := private.insert_booking(old_appt.consultant_id, old_appt.client_id, old_appt.engagement_id,
                                     old_appt.request_id, p_new_starts_at, me);
  -- The new session continues the old one: its calendar event and the terms it was booked under (triggers).
  update public.appointments set rescheduled_from = old_appt.id where id = new_appt.id returning * into new_appt;
  other := case when me = old_appt.consultant_id then old_appt.client_id else old_appt.consultant_id end;
  perform private.notify(other, 'rescheduled',
                         (select display_name from public.profiles where id = me) || ' asked to move the session on '
                         || private.local_time_text(old_appt.starts_at, other) || ' to '
                         || private.local_time_text(p_new_starts_at, other)
                         || judged.late_words
                         || ': ' || btrim(p_reason) || '. Confirm or decline the new time.', 'appointments');
  return new_appt;
end;
$$;

-- Each session with the threshold it was booked under, so the page states its own rule.
drop function public.my_appointments(timestamptz, timestamptz);
create function public.my_appointments(p_from timestamptz default null, p_to timestamptz default null)
returns table (id uuid, other_id uuid, other_name text, my_role text, starts_at timestamptz, ends_at timestamptz,
               status text, requested_by_me boolean, decline_reason text, cancel_reason text,
               cancelled_by_me boolean, notice_hours numeric, late boolean, rescheduled_from uuid,
               other_timezone text, my_statement text, their_statement text, their_note text,
               resolution_note text, late_cancel_hours integer)
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
         mine.outcome, theirs.outcome, theirs.note, a.resolution_note, a.late_cancel_hours
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
