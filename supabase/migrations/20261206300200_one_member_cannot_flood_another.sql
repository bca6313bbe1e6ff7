-- One member cannot flood another (issue 23, item 4).
--
-- A seeker with an unanswered request could propose and cancel a first session in a loop (25
-- cycles gave the consultant 50 notices and 50 emails), and Check for conflicts on any profile id
-- wrote a row into the other member's screening log, without end. The cap is a rule on the
-- states, not on the doors: triggers on notifications and on the screening log count, per sender,
-- recipient and day (UTC), the actions by which one member made another receive something, and
-- refuse the action past the cap with a sentence. One action (one transaction) counts once however
-- many notices it writes, so a cancellation that tells about several sessions is one action.
-- Notices written by the portal itself (reminders, the sender's sweep: no member signed in), by an
-- administrator, or to oneself are not counted; screening rows count only where the other member
-- reads them (Check for conflicts, a request, an acceptance).
-- The functions here are invokers, executable by no API role: members hold no INSERT on either table,
-- so every row is written by a SECURITY DEFINER function (or the service role) and the count runs as it.

create table private.pair_deliveries (
  sender     uuid not null references public.profiles (id) on delete cascade,
  recipient  uuid not null references public.profiles (id) on delete cascade,
  what       text not null check (what in ('notices', 'screenings')),
  on_day     date not null,
  actions    integer not null default 0,
  last_xact  xid8,
  primary key (sender, recipient, what, on_day)
);
create index pair_deliveries_recipient_idx on private.pair_deliveries (recipient);
alter table private.pair_deliveries enable row level security;
revoke all on private.pair_deliveries from public, anon, authenticated, portal_member;
grant all on private.pair_deliveries to service_role;

-- Counts one action of p_sender reaching p_recipient today; the new total (an action already
-- counted in this transaction is not counted again).
create function private.count_pair_delivery(p_sender uuid, p_recipient uuid, p_what text)
returns integer
language sql
volatile
set search_path = ''
as $$
  insert into private.pair_deliveries as d (sender, recipient, what, on_day, actions, last_xact)
  values (p_sender, p_recipient, p_what, (now() at time zone 'utc')::date, 1, pg_catalog.pg_current_xact_id())
  on conflict (sender, recipient, what, on_day) do update
    set actions = d.actions + case when d.last_xact = excluded.last_xact then 0 else 1 end,
        last_xact = excluded.last_xact
  returning actions
$$;
revoke all on function private.count_pair_delivery(uuid, uuid, text) from public, anon, authenticated;

create function private.notices_between_members_are_capped()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  sender uuid := auth.uid();
begin
  if sender is null or sender = new.user_id or public.is_admin() then
    return new;
  end if;
  if private.count_pair_delivery(sender, new.user_id, 'notices') > 20 then
    raise exception 'You have sent this member 20 updates today (requests, sessions, plans), the most one member can send another in a day; try again tomorrow.'
      using detail = 'notices', hint = 'Anything urgent can wait for their answer, or be said at your next session.';
  end if;
  return new;
end;
$$;
revoke all on function private.notices_between_members_are_capped() from public, anon, authenticated;
create trigger notifications_between_members_are_capped before insert on public.notifications
  for each row execute function private.notices_between_members_are_capped();

create function private.screenings_between_members_are_capped()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  recipient uuid := case when new.seeker_id = new.checked_by then new.consultant_id else new.seeker_id end;
begin
  if new.checked_by is null or recipient is null or recipient = new.checked_by
     or new.context not in ('on_demand', 'request', 'accept') then
    return new;
  end if;
  if private.count_pair_delivery(new.checked_by, recipient, 'screenings') > 20 then
    raise exception 'You have checked for conflicts with this member 20 times today, the most in a day; the answer you have stands, and you can check again tomorrow.'
      using detail = 'screening';
  end if;
  return new;
end;
$$;
revoke all on function private.screenings_between_members_are_capped() from public, anon, authenticated;
create trigger screening_log_between_members_is_capped before insert on public.screening_log
  for each row execute function private.screenings_between_members_are_capped();
