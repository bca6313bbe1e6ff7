-- A fair record: moving a session in good time is a reschedule, not a cancellation.
--
-- reschedule_appointment cancelled the old session (recorded as a cancellation by the mover, with
-- its own notification) and booked a new one (another notification), then sent a third notice.
-- A move with 69 hours' notice read "1 of 2 cancellations in good time" on the record.
--
-- Now the old session becomes `moved` (who moved it, when, why, the notice given, and whether
-- that notice was inside the late-cancellation threshold), the new one is booked in the same
-- transaction, and the other party gets one notice naming both times. The record counts a move
-- only when it was late; a move in good time costs nobody anything (private.professionalism_facts,
-- rewritten once for this and for attendance in 20261129000600).
--
-- Booking itself moves into private.insert_booking (the locks, the open-slot check, the insert and
-- the refusal when someone was faster), shared by book_appointment and reschedule_appointment.

alter table public.appointments drop constraint appointments_status_check;
alter table public.appointments add constraint appointments_status_check
  check (status in ('requested', 'confirmed', 'declined', 'cancelled', 'moved', 'completed', 'no_show'));

create function private.insert_booking(p_consultant uuid, p_client uuid, p_engagement uuid, p_request uuid,
                                       p_starts_at timestamptz, p_by uuid)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  cfg public.availability_settings;
  booked public.appointments;
begin
  -- Serialise bookings that involve the same people (in a fixed order, so two of them never wait
  -- on each other): the exclusion constraints then refuse the loser cleanly instead of deadlocking.
  perform pg_advisory_xact_lock(hashtextextended('book:' || least(p_consultant, p_client)::text, 0));
  perform pg_advisory_xact_lock(hashtextextended('book:' || greatest(p_consultant, p_client)::text, 0));
  if not exists (select 1 from public.open_slots(p_consultant, (p_starts_at - interval '1 day')::date,
                                                 (p_starts_at + interval '1 day')::date, p_client) s
                 where s.starts_at = p_starts_at) then
    raise exception 'That time was just taken, or is no longer open.'
      using detail = 'slot_taken', hint = 'Pick another time from the fresh list.';
  end if;
  select * into cfg from public.availability_settings where consultant_id = p_consultant;
  insert into public.appointments (consultant_id, client_id, engagement_id, request_id, starts_at, ends_at,
                                   blocked_until, requested_by)
  values (p_consultant, p_client, p_engagement, p_request, p_starts_at,
          p_starts_at + make_interval(mins => cfg.session_minutes),
          p_starts_at + make_interval(mins => cfg.session_minutes + cfg.buffer_minutes), p_by)
  returning * into booked;
  return booked;
exception when exclusion_violation or deadlock_detected then
  raise exception 'That time was just taken.' using detail = 'slot_taken',
    hint = 'Someone booked it a moment ago. Pick another time from the fresh list.';
end;
$$;
revoke all on function private.insert_booking(uuid, uuid, uuid, uuid, timestamptz, uuid)
  from public, anon, authenticated, service_role;

create or replace function public.book_appointment(p_other uuid, p_starts_at timestamptz)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  eng public.engagements;
  req public.consultation_requests;
  consultant uuid;
  client uuid;
  booked public.appointments;
begin
  if me is null then
    raise exception 'Sign in to book.' using errcode = '42501';
  end if;
  -- Within an active engagement either party books; a seeker with a pending request may propose a first session.
  select * into eng from public.engagements e
  where e.status = 'active' and ((e.seeker_id = me and e.consultant_id = p_other)
                                 or (e.consultant_id = me and e.seeker_id = p_other));
  if eng.id is null then
    select * into req from public.consultation_requests r
    where r.seeker_id = me and r.consultant_id = p_other and r.status = 'pending';
    if req.id is null then
      raise exception 'You can book only with someone you work with, or propose a first session with a pending request.'
        using errcode = '42501';
    end if;
    if exists (select 1 from public.appointments a where a.request_id = req.id and a.status in ('requested', 'confirmed')) then
      raise exception 'You already proposed a first session for this request.' using detail = 'slot';
    end if;
    consultant := p_other; client := me;
  else
    consultant := eng.consultant_id; client := eng.seeker_id;
  end if;
  booked := private.insert_booking(consultant, client, eng.id, req.id, p_starts_at, me);
  perform private.notify(case when me = consultant then client else consultant end, 'booked',
                         (select display_name from public.profiles where id = me) || ' proposed a session on '
                         || private.local_time_text(p_starts_at, case when me = consultant then client
                                                                      else consultant end)
                         || '.', 'appointments');
  return booked;
end;
$$;

create or replace function public.reschedule_appointment(p_appointment uuid, p_new_starts_at timestamptz,
                                                         p_reason text, p_accept_late boolean default false)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  old_appt public.appointments;
  new_appt public.appointments;
  other uuid;
  threshold integer;
  hours numeric;
  notice numeric;
  is_late boolean;
begin
  select * into old_appt from public.appointments where id = p_appointment for update;
  if old_appt.id is null or me is null or me not in (old_appt.consultant_id, old_appt.client_id) then
    raise exception 'No such appointment.' using errcode = 'P0002';
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
  -- Late is decided as for a cancellation: on the exact notice, recorded rounded down.
  select late_cancel_hours into threshold from public.availability_settings
  where consultant_id = old_appt.consultant_id;
  hours := extract(epoch from old_appt.starts_at - now()) / 3600.0;
  notice := round(floor(hours * 10) / 10, 1);
  is_late := hours < threshold and old_appt.status = 'confirmed';
  if is_late and not coalesce(p_accept_late, false) then
    raise exception 'This is a late move: % hours before the session, inside the %-hour threshold.',
                    notice, threshold
      using detail = 'late', hint = 'Confirm to move it anyway; it will be recorded as a late cancellation.';
  end if;
  update public.appointments
  set status = 'moved', cancelled_by = me, cancelled_at = now(), cancel_reason = btrim(p_reason),
      notice_hours = notice, late = is_late
  where id = old_appt.id;
  new_appt := private.insert_booking(old_appt.consultant_id, old_appt.client_id, old_appt.engagement_id,
                                     old_appt.request_id, p_new_starts_at, me);
  update public.appointments set rescheduled_from = old_appt.id where id = new_appt.id returning * into new_appt;
  other := case when me = old_appt.consultant_id then old_appt.client_id else old_appt.consultant_id end;
  perform private.notify(other, 'rescheduled',
                         (select display_name from public.profiles where id = me) || ' asked to move the session on '
                         || private.local_time_text(old_appt.starts_at, other) || ' to '
                         || private.local_time_text(p_new_starts_at, other)
                         || case when not is_late then ''
                                 when notice < 1 then ' (late: less than an hour''s notice)'
                                 when notice < 2 then ' (late: 1 hour''s notice)'
                                 else ' (late: ' || floor(notice) || ' hours'' notice)' end
                         || ': ' || btrim(p_reason) || '. Confirm or decline the new time.', 'appointments');
  return new_appt;
end;
$$;
