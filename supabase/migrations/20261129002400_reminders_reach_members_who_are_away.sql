-- Reminders reach members who are away (#13): "session tomorrow" and "final session in 7 days" are
-- written by the sender's sweep (public.write_due_reminders, called on each poll), not only when a
-- member opens a page, so their emails go out to someone who never signs in.
--
-- Session reminder: every confirmed session starting within the next 24 hours, to both parties,
-- naming the other person and the time in the recipient's zone. A rolling 24-hour window rather than
-- "tomorrow": the two parties live in different zones, so "tomorrow" is two different days, and a
-- window swept every poll reminds each session about a day ahead whatever the zones (as Cal.com-like
-- tools do); a session confirmed inside the window is reminded at once. Only `confirmed` sessions take
-- place: requested, declined, cancelled and moved ones are never reminded. The dedup key is per
-- appointment and start time, so a session moved into the window (a new appointment) gets its own
-- reminder and the one it replaced, no longer confirmed, gets none.
--
-- Final-session reminder: the rule the Termination page applied to the signed-in member only (an
-- agreed plan whose final session is within 7 days), now for both parties of every plan, with the
-- same kind and dedup key, so a member who opened the page is not reminded twice. The page now calls
-- the same function, so one rule and one sentence serve both (the recipient's own calendar day
-- decides "within 7 days").
--
-- Each reminder is a notification; its outbox row follows from the trigger and honours the member's
-- email choices as every notice does. A session reminder's outbox row carries its appointment (the
-- email's subject then names the session's time) but no calendar method: it is not an invitation, and
-- the SEQUENCE of the series' invitations counts invitations only.
--
-- Two senders sweeping at once: the sweep takes a transaction-level advisory lock, and a second
-- sweep that finds it held returns at once (the first is writing the same reminders). Every insert
-- is also `on conflict do nothing` on notifications_dedup (user_id, dedup_key), so a member's page
-- writing the same reminder at the same moment waits and then adds nothing, without an error.

-- Sessions about to happen are found through their start, among confirmed sessions only.
create index appointments_confirmed_start_idx on public.appointments (starts_at) where status = 'confirmed';

-- The dedup key of a session reminder: the appointment and its start (UTC, to the second).
create function private.session_reminder_key(p_appointment uuid, p_starts_at timestamptz)
returns text
language sql
immutable
set search_path = ''
as $$
  select 'tomorrow:' || p_appointment || ':' || to_char(p_starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
revoke all on function private.session_reminder_key(uuid, timestamptz)
  from public, anon, authenticated, portal_member, service_role;

-- SECURITY INVOKER, like the other private helpers: they run with the rights of the portal function
-- that calls them (write_due_reminders, refresh_termination_reminders) and no API role executes them.
create function private.remind_sessions_tomorrow(p_member uuid default null)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  added integer := 0;
  item record;
  written uuid;
begin
  -- p_member: only this member's reminders; null: everyone's (the sender's sweep). Already reminded
  -- pairs are skipped by the dedup index before any sentence is composed: a poll with nothing due reads
  -- the window's confirmed sessions and one index entry per party.
  for item in
    select a.id, a.starts_at, r.member, r.other, private.session_reminder_key(a.id, a.starts_at) as dedup_key
    from public.appointments a
    cross join lateral (values (a.consultant_id, a.client_id), (a.client_id, a.consultant_id)) r (member, other)
    where a.status = 'confirmed'
      and a.starts_at > now() and a.starts_at <= now() + interval '24 hours'
      and (p_member is null or r.member = p_member)
      and not exists (select 1 from public.notifications n
                      where n.user_id = r.member and n.dedup_key = private.session_reminder_key(a.id, a.starts_at))
    order by a.starts_at, a.id, r.member  -- one order for every sweep: concurrent writers never deadlock
  loop
    written := null;
    insert into public.notifications (user_id, kind, message, page, dedup_key)
    values (item.member, 'session_tomorrow',
            'Reminder: your session with ' || coalesce((select p.display_name from public.profiles p
                                                        where p.id = item.other), 'your colleague')
              || ' is on ' || private.local_time_text(item.starts_at, item.member) || '.',
            'appointments', item.dedup_key)
    on conflict do nothing
    returning id into written;
    if written is not null then
      -- The email relates to the session (its subject names the time); no invitation rides along.
      update private.outbox o set appointment_id = item.id where o.notification_id = written;
      added := added + 1;
    end if;
  end loop;
  return added;
end;
$$;
revoke all on function private.remind_sessions_tomorrow(uuid)
  from public, anon, authenticated, portal_member, service_role;

create function private.remind_final_sessions(p_member uuid default null)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  added integer := 0;
  item record;
  written uuid;
begin
  for item in
    select p.id, v.final_session_on, r.member, r.other
    from public.termination_plans p
    join public.termination_plan_versions v on v.plan_id = p.id and v.version = p.current_version
    cross join lateral (values (p.seeker_id, p.consultant_id), (p.consultant_id, p.seeker_id)) r (member, other)
    left join public.profiles m on m.id = r.member
    where p.status = 'agreed'
      -- Within 7 days of the recipient's own today (a calendar date has no zone; the day it is does).
      and v.final_session_on between (now() at time zone coalesce(m.timezone, 'UTC'))::date
                                 and (now() at time zone coalesce(m.timezone, 'UTC'))::date + 7
      and (p_member is null or r.member = p_member)
      and not exists (select 1 from public.notifications n
                      where n.user_id = r.member and n.dedup_key = 'final:' || p.id || ':' || v.final_session_on)
    order by p.id, r.member  -- one order for every writer: concurrent writers never deadlock
  loop
    written := null;
    insert into public.notifications (user_id, kind, message, page, dedup_key)
    values (item.member, 'final_session_soon',
            'Your final session with ' || coalesce((select o.display_name from public.profiles o
                                                   where o.id = item.other), 'your colleague')
              || ' is on ' || to_char(item.final_session_on, 'Dy DD Mon')
              || ', as your termination plan agreed.',
            'termination', 'final:' || item.id || ':' || item.final_session_on)
    on conflict do nothing
    returning id into written;
    if written is not null then
      added := added + 1;
    end if;
  end loop;
  return added;
end;
$$;
revoke all on function private.remind_final_sessions(uuid)
  from public, anon, authenticated, portal_member, service_role;

-- The member's page: as in 20261129002200, with the final-session reminder written by the shared rule.
create or replace function public.refresh_termination_reminders()
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  added integer := 0;
  item record;
begin
  for item in
    select p.id, p.status, v.version, v.final_session_on, v.follow_up_on,
           exists (select 1 from public.termination_signatures s
                   where s.plan_id = p.id and s.version = v.version and s.signer_id = me) as i_signed
    from public.termination_plans p
    join public.termination_plan_versions v on v.plan_id = p.id and v.version = p.current_version
    where me in (p.seeker_id, p.consultant_id) and p.status in ('proposed', 'agreed')
    order by p.id
  loop
    if item.status = 'proposed' and not item.i_signed then
      insert into public.notifications (user_id, kind, message, page, dedup_key)
      values (me, 'plan_awaiting', 'A termination plan awaits your signature.', 'termination',
              'awaiting:' || item.id || ':' || item.version) on conflict do nothing;
      added := added + 1;
    end if;
    if item.follow_up_on is not null and item.follow_up_on <= current_date then
      insert into public.notifications (user_id, kind, message, page, dedup_key)
      values (me, 'follow_up_due', 'A follow-up check-in is due.', 'termination',
              'follow_up:' || item.id || ':' || item.follow_up_on) on conflict do nothing;
      added := added + 1;
    end if;
  end loop;
  if me is not null then
    added := added + private.remind_final_sessions(me);
    added := added + private.remind_plans_awaiting_signature(me);
  end if;
  return added;
end;
$$;

-- The sender's sweep: every reminder now due, for everyone, each written once.
create or replace function public.write_due_reminders()
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  -- One sweep at a time; a sender that finds another sweeping leaves it to them (it writes the same
  -- reminders) rather than waiting, and its next poll sweeps again.
  if not pg_try_advisory_xact_lock(hashtextextended('portal:write_due_reminders', 0)) then
    return 0;
  end if;
  return private.remind_sessions_tomorrow(null)
       + private.remind_final_sessions(null)
       + private.remind_plans_awaiting_signature(null);
end;
$$;
revoke all on function public.write_due_reminders() from public, anon, authenticated, portal_member;
grant execute on function public.write_due_reminders() to service_role;

-- A series' SEQUENCE counts the invitations its recipient's calendar has seen; a reminder relates
-- to the session (appointment_id) without being an invitation, so it does not count. As in
-- 20261129001200 otherwise.
create or replace function private.queue_notice_for_delivery()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  about uuid;
  method text;
  series uuid;
begin
  if new.page = 'appointments' then
    method := private.calendar_method(new.kind);
    about := nullif(current_setting('portal.changed_appointment', true), '')::uuid;
    if method is not null and about is not null then
      select a.series_id into series from public.appointments a where a.id = about;
    end if;
  end if;
  insert into private.outbox (notification_id, recipient_id, kind, message, page, appointment_id, ics_method,
                              ics_sequence)
  values (new.id, new.user_id, new.kind, new.message, new.page,
          case when series is not null then about end,
          case when series is not null then method end,
          case when series is not null then (
            -- What this recipient's calendar has seen of the series so far.
            select count(*)::integer from private.outbox o
            join public.appointments a on a.id = o.appointment_id
            where o.recipient_id = new.user_id and a.series_id = series and o.ics_method is not null) end);
  return null;
end;
$$;
