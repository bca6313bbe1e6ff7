-- Notification texts name times in the recipient's own zone, with the zone named.
--
-- A proposed session was announced in the recipient's zone ("Tue 03 Mar at
-- 14:00") without saying which zone, while a cancellation said
-- "2026-03-03 19:00 UTC": the same session read as two different times. Every
-- notification that names a time now goes through private.local_time_text,
-- which writes it in profiles.timezone of the person notified and names that
-- zone ("Tue 03 Mar at 14:00 America/New_York").
--
-- The functions below are copied from 20261126000500 (no later migration
-- replaced them) with only the time formatting changed; signatures, checks and
-- grants are unchanged. reschedule_appointment needs no change: it cancels and
-- books through the two functions replaced here. The other notifications
-- (answers to a proposed time, termination plans and their reminders) name no
-- time of day; the final-session reminder names a calendar date, which has no zone.
-- cancel_appointment also decides lateness on the exact notice and records it rounded
-- down (it was rounded to the nearest tenth first: 15.96 hours became 16.0, on time).

-- An instant as the member `p_who` reads it: their zone (UTC for a profile that is
-- gone), then the zone's name. SECURITY INVOKER: it runs with the rights of the
-- portal function that calls it and is executable by no API role.
create function private.local_time_text(p_at timestamptz, p_who uuid)
returns text
language sql
stable
set search_path = ''
as $$
  select to_char(p_at at time zone z.tz, 'Dy DD Mon "at" HH24:MI') || ' ' || z.tz
  from (select coalesce((select p.timezone from public.profiles p where p.id = p_who), 'UTC') as tz) z
$$;
revoke all on function private.local_time_text(timestamptz, uuid) from public, anon, authenticated, service_role;

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
  cfg public.availability_settings;
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
  -- Serialise bookings that involve the same people (in a fixed order, so two of them never wait
  -- on each other): the exclusion constraints then refuse the loser cleanly instead of deadlocking.
  perform pg_advisory_xact_lock(hashtextextended('book:' || least(consultant, client)::text, 0));
  perform pg_advisory_xact_lock(hashtextextended('book:' || greatest(consultant, client)::text, 0));
  if not exists (select 1 from public.open_slots(consultant, (p_starts_at - interval '1 day')::date,
                                                 (p_starts_at + interval '1 day')::date, client) s
                 where s.starts_at = p_starts_at) then
    raise exception 'That time was just taken, or is no longer open.'
      using detail = 'slot_taken', hint = 'Pick another time from the fresh list.';
  end if;
  select * into cfg from public.availability_settings where consultant_id = consultant;
  insert into public.appointments (consultant_id, client_id, engagement_id, request_id, starts_at, ends_at,
                                   blocked_until, requested_by)
  values (consultant, client, eng.id, req.id, p_starts_at,
          p_starts_at + make_interval(mins => cfg.session_minutes),
          p_starts_at + make_interval(mins => cfg.session_minutes + cfg.buffer_minutes), me)
  returning * into booked;
  perform private.notify(case when me = consultant then client else consultant end, 'booked',
                         (select display_name from public.profiles where id = me) || ' proposed a session on '
                         || private.local_time_text(p_starts_at, case when me = consultant then client
                                                                      else consultant end)
                         || '.', 'appointments');
  return booked;
exception when exclusion_violation or deadlock_detected then
  raise exception 'That time was just taken.' using detail = 'slot_taken',
    hint = 'Someone booked it a moment ago. Pick another time from the fresh list.';
end;
$$;
revoke all on function public.book_appointment(uuid, timestamptz) from public, anon;
grant execute on function public.book_appointment(uuid, timestamptz) to authenticated;

create or replace function public.cancel_appointment(p_appointment uuid, p_reason text,
                                                     p_accept_late boolean default false)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  appt public.appointments;
  threshold integer;
  hours numeric;
  notice numeric;
begin
  select * into appt from public.appointments where id = p_appointment for update;
  if appt.id is null or me not in (appt.consultant_id, appt.client_id) then
    raise exception 'No such appointment.' using errcode = 'P0002';
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
  select late_cancel_hours into threshold from public.availability_settings where consultant_id = appt.consultant_id;
  -- Late is decided on the exact notice; the notice recorded and shown is rounded down, never up
  -- (15.96 hours is 15.9, inside a 16-hour threshold, not 16.0 outside it).
  hours := extract(epoch from appt.starts_at - now()) / 3600.0;
  notice := round(floor(hours * 10) / 10, 1);
  if hours < threshold and appt.status = 'confirmed' and not coalesce(p_accept_late, false) then
    raise exception 'This is a late cancellation: % hours before the session, inside the %-hour threshold.',
                    notice, threshold
      using detail = 'late', hint = 'Confirm to cancel anyway; it will be recorded as late.';
  end if;
  update public.appointments
  set status = 'cancelled', cancelled_by = me, cancelled_at = now(), cancel_reason = btrim(p_reason),
      notice_hours = notice, late = hours < threshold and appt.status = 'confirmed'
  where id = appt.id returning * into appt;
  perform private.notify(case when me = appt.consultant_id then appt.client_id else appt.consultant_id end,
                         case when appt.late then 'late_cancellation' else 'cancelled' end,
                         (select display_name from public.profiles where id = me) || ' cancelled the session on '
                         || private.local_time_text(appt.starts_at, case when me = appt.consultant_id
                                                                         then appt.client_id
                                                                         else appt.consultant_id end)
                         || case when not appt.late then ''
                                 when notice < 1 then ' (late: less than an hour''s notice)'
                                 when notice < 2 then ' (late: 1 hour''s notice)'
                                 else ' (late: ' || floor(notice) || ' hours'' notice)' end
                         || ': ' || appt.cancel_reason, 'appointments');
  return appt;
end;
$$;
revoke all on function public.cancel_appointment(uuid, text, boolean) from public, anon;
grant execute on function public.cancel_appointment(uuid, text, boolean) to authenticated;
