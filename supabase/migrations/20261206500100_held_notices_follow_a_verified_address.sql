-- Held notices follow a verified address (#22, item 7).
--
-- The sender holds a notice whose recipient's address is not verified yet, and a held row was never
-- looked at again: once the member confirmed their address, the sessions and plans they had been told
-- about in the app never reached their mailbox or calendar. The rule sits on the state (the moment
-- `email_verified_at` is first set, whichever function sets it): the held rows that still matter are
-- queued again, once each —
--   * a session: the latest held notice of each calendar series, if that session is still upcoming and
--     requested or confirmed (its invitation carries the session's current time; a series that ended
--     while the address was unverified never reached the calendar, so nothing is sent for it);
--   * a plan: the latest held notice of each plan that is still open (not completed or withdrawn).
-- Everything else stays held: news of a request answered weeks ago is not worth an email now.

create function private.release_held_notices()
returns trigger
language plpgsql
-- Not a definer: the address is verified by service-role functions that own the outbox's privileges.
set search_path = ''
as $$
begin
  if old.email_verified_at is not null or new.email_verified_at is null then
    return null;
  end if;
  with held as (
    select o.id, o.appointment_id, o.plan_id,
           row_number() over (partition by coalesce(a.series_id, o.plan_id) order by o.id desc) as newest
    from private.outbox o
    left join public.appointments a on a.id = o.appointment_id
    where o.recipient_id = new.user_id and o.status = 'held'
      and (o.appointment_id is not null or o.plan_id is not null)
  ), relevant as (
    select h.id from held h
    where h.newest = 1
      and (exists (select 1 from public.appointments a
                   where a.id = h.appointment_id and a.status in ('requested', 'confirmed') and a.starts_at > now())
           or exists (select 1 from public.termination_plans p
                      where h.appointment_id is null and p.id = h.plan_id
                        and p.status not in ('completed', 'withdrawn')))
  )
  update private.outbox o
  set status = 'queued', next_attempt_at = now(), last_error = null, settled_at = null, lease_until = null
  from relevant r
  where o.id = r.id;
  return null;
end;
$$;
revoke all on function private.release_held_notices() from public, anon, authenticated, service_role;
create trigger credentials_release_held_notices after update of email_verified_at on private.credentials
  for each row execute function private.release_held_notices();
