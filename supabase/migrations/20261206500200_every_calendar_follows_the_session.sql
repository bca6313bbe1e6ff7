-- Every change to a session reaches both parties' calendars, the one who made it included (#22, item 5).
--
-- A session's calendar invitation rode only on the notice the OTHER party received, so whoever acted
-- (the consultant who confirmed, the member who cancelled or moved, both parties of a closed account's
-- sessions) never saw their own calendar change: the confirmed session stayed TENTATIVE, a cancelled one
-- stayed in the calendar. The rule sits on the state: when a transaction that a member (or an admin)
-- made commits, each session it booked, confirmed, declined, moved or cancelled has an invitation queued
-- for each party, unless that party's notice already carries one. It is a deferred constraint trigger, so
-- it runs after the transaction's notices were written and sees the session as it ends.
--   * A session that became `moved` is skipped: its series continues in the new session (same UID).
--   * Sessions written without a signed-in caller (the demo world, the benchmark worlds, a migration's
--     backfill) are data loads, not acts anybody must be told about.
--   * The extra row copies the kind and method of the other party's row when there is one (the actor's
--     "Session confirmed" with the same CONFIRMED event), else follows from the session's status.
--   * Members' email choices apply as to every row (outbox_honours_choices): muting sessions mutes these.

-- The sentence the acting party (or a party of a closed account's session) reads with their invitation.
create function private.calendar_update_sentence(p_kind text, p_is_actor boolean)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when p_kind = 'booked' then 'You proposed this session; your calendar holds it as tentative until it is confirmed.'
    when p_kind = 'confirmed' and p_is_actor then 'You confirmed this session; your calendar now shows it as confirmed.'
    when p_kind = 'confirmed' then 'This session is confirmed; your calendar now shows it as confirmed.'
    when p_kind = 'rescheduled' then 'You moved this session to this time; your calendar holds it as tentative until the move is confirmed.'
    when p_kind = 'declined' then 'You declined this proposed session; it leaves your calendar.'
    when p_kind in ('cancelled', 'late_cancellation') and p_is_actor then 'You cancelled this session; it leaves your calendar.'
    else 'This session was cancelled; it leaves your calendar.'
  end
$$;
revoke all on function private.calendar_update_sentence(text, boolean) from public, anon, authenticated, service_role;

create function private.calendars_follow_the_session()
returns trigger
language plpgsql
-- A definer: a deferred trigger fires at commit, after the portal's function returned, as the member (before
-- Postgres 18; 18 runs it as the role that queued it), and the member holds no privilege on private.outbox.
security definer
set search_path = ''
as $$
declare
  session public.appointments;
  party uuid;
  template record;
  kind text;
  method text;
begin
  if auth.uid() is null then
    return null;
  end if;
  select * into session from public.appointments a where a.id = new.id;
  if session.id is null or session.status not in ('requested', 'confirmed', 'declined', 'cancelled') then
    return null;
  end if;
  foreach party in array array[session.consultant_id, session.client_id] loop
    continue when exists (select 1 from private.outbox o
                          where o.recipient_id = party and o.appointment_id = session.id
                            and o.ics_method is not null and o.created_at = now());
    continue when not exists (select 1 from private.credentials c where c.user_id = party);
    select o.kind, o.ics_method into template from private.outbox o
    where o.appointment_id = session.id and o.ics_method is not null and o.created_at = now()
    order by o.id desc limit 1;
    kind := coalesce(template.kind, case session.status when 'requested' then 'booked'
                                                        when 'confirmed' then 'confirmed'
                                                        when 'declined' then 'declined'
                                                        else 'cancelled' end);
    method := coalesce(template.ics_method, private.calendar_method(kind));
    insert into private.outbox (recipient_id, kind, message, page, appointment_id, ics_method, ics_sequence)
    values (party, kind,
            private.calendar_update_sentence(kind, party = auth.uid()
                                                   or (kind in ('booked', 'rescheduled')
                                                       and party = session.requested_by)),
            'appointments', session.id, method,
            (select count(*)::integer from private.outbox o
             join public.appointments a on a.id = o.appointment_id
             where o.recipient_id = party and a.series_id = session.series_id));
  end loop;
  return null;
end;
$$;
revoke all on function private.calendars_follow_the_session() from public, anon, authenticated, service_role;
create constraint trigger appointments_calendars_follow after insert or update of status, starts_at
  on public.appointments deferrable initially deferred
  for each row execute function private.calendars_follow_the_session();

-- One session has one UID everywhere: the downloadable calendar file names each session by its series
-- (the first booking's id, as the emailed invitations do) with the SEQUENCE the caller's calendar has seen.
create function public.my_calendar_entries()
returns table (appointment_id uuid, series_id uuid, sequence integer)
language sql
stable
security definer  -- the outbox is private; the caller's own sessions and counts only
set search_path = ''
as $$
  select a.id, a.series_id,
         greatest((select count(*)::integer - 1 from private.outbox o
                   join public.appointments s on s.id = o.appointment_id
                   where o.recipient_id = auth.uid() and s.series_id = a.series_id), 0)
  from public.appointments a
  where auth.uid() in (a.consultant_id, a.client_id)
$$;
revoke all on function public.my_calendar_entries() from public, anon, authenticated;
grant execute on function public.my_calendar_entries() to portal_member;
