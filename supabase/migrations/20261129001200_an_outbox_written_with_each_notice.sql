-- What must reach a person outside the app is written to an outbox in the same
-- transaction as the change, and delivered by a separate sender (#13).
--
-- Every notification is the event: a trigger writes one outbox row per
-- notification, so a change that notifies also queues its email, and a change
-- that rolls back queues nothing. A notice about a session carries the session:
-- the portal's booking functions change one appointment and then notify, so the
-- row names the appointment changed last in the transaction, with the calendar
-- series it belongs to (a move keeps the first booking's id as its UID), the
-- SEQUENCE the recipient's calendar has seen, and REQUEST or CANCEL.
--
-- The sender (python -m portal.mailer, or the app's thread in local mode) claims
-- rows through outbox_claim, with a lease and FOR UPDATE SKIP LOCKED so two
-- senders never take the same row, and settles each through outbox_settle:
-- sent, held (nowhere to send yet, e.g. an address not verified), or retried
-- with back-off until it fails for good. A failed send never loses the row and
-- never blocks the change that wrote it. Both are service-role only.

alter table private.credentials add column email_verified_at timestamptz;

alter table public.appointments add column series_id uuid;
update public.appointments set series_id = id where rescheduled_from is null;
with recursive chain as (
  select a.id, a.id as root from public.appointments a where a.rescheduled_from is null
  union all
  select a.id, c.root from public.appointments a join chain c on a.rescheduled_from = c.id
)
update public.appointments a set series_id = c.root from chain c where c.id = a.id and a.series_id is null;
update public.appointments set series_id = id where series_id is null;

create function private.appointment_series()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A move continues the calendar event of the session it moves (rescheduled_from is set
  -- right after the new booking is inserted).
  if tg_op = 'INSERT' or new.rescheduled_from is distinct from old.rescheduled_from then
    new.series_id := coalesce((select a.series_id from public.appointments a where a.id = new.rescheduled_from),
                              new.id);
  end if;
  return new;
end;
$$;
revoke all on function private.appointment_series() from public, anon, authenticated;
create trigger appointments_series before insert or update of rescheduled_from on public.appointments
  for each row execute function private.appointment_series();
alter table public.appointments alter column series_id set not null;

-- The appointment a notice is about: the one changed last in this transaction.
create function private.remember_changed_appointment()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform set_config('portal.changed_appointment', new.id::text, true);
  return null;
end;
$$;
revoke all on function private.remember_changed_appointment() from public, anon, authenticated;
create trigger appointments_remember_changed after insert or update of status, rescheduled_from
  on public.appointments
  for each row execute function private.remember_changed_appointment();

create table private.outbox (
  id               bigint generated always as identity primary key,
  notification_id  uuid unique references public.notifications (id) on delete set null,
  recipient_id     uuid not null references public.profiles (id) on delete cascade,
  kind             text not null,
  message          text not null,
  page             text,
  appointment_id   uuid references public.appointments (id) on delete set null,
  ics_method       text check (ics_method in ('REQUEST', 'CANCEL')),
  ics_sequence     integer,
  status           text not null default 'queued'
                   check (status in ('queued', 'sending', 'sent', 'held', 'failed')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default now(),
  lease_until      timestamptz,
  last_error       text,
  delivered_to     text,
  created_at       timestamptz not null default now(),
  settled_at       timestamptz
);
create index outbox_due_idx on private.outbox (next_attempt_at) where status in ('queued', 'sending');
create index outbox_recipient_idx on private.outbox (recipient_id, created_at desc);
create index outbox_series_idx on private.outbox (appointment_id);
alter table private.outbox enable row level security;
revoke all on private.outbox from public, anon, authenticated, portal_member;
grant all on private.outbox to service_role;

-- Kinds that concern a session and carry a calendar invitation.
create function private.calendar_method(p_kind text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when p_kind in ('booked', 'confirmed', 'rescheduled') then 'REQUEST'
              when p_kind in ('declined', 'cancelled', 'late_cancellation') then 'CANCEL' end
$$;
revoke all on function private.calendar_method(text) from public, anon, authenticated;

create function private.queue_notice_for_delivery()
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
            where o.recipient_id = new.user_id and a.series_id = series) end);
  return null;
end;
$$;
revoke all on function private.queue_notice_for_delivery() from public, anon, authenticated;
create trigger notifications_queue_for_delivery after insert on public.notifications
  for each row execute function private.queue_notice_for_delivery();

-- The sender's two calls. A claimed row is leased: if the sender dies, the
-- lease runs out and another sender takes it (at-least-once delivery).
create function public.outbox_claim(p_limit integer default 20, p_lease_seconds integer default 120)
returns table (id bigint, kind text, message text, page text, attempts integer, recipient_name text,
               recipient_email text, email_verified boolean, recipient_timezone text, appointment_id uuid,
               series_id uuid, ics_method text, ics_sequence integer, starts_at timestamptz, ends_at timestamptz,
               consultant_timezone text, other_name text)
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select o.id from private.outbox o
    where (o.status = 'queued' and o.next_attempt_at <= now())
       or (o.status = 'sending' and o.lease_until < now())
    order by o.next_attempt_at, o.id
    limit least(greatest(coalesce(p_limit, 20), 1), 500)
    for update skip locked
  ),
  claimed as (
    update private.outbox o
    set status = 'sending', attempts = o.attempts + 1,
        lease_until = now() + make_interval(secs => least(greatest(coalesce(p_lease_seconds, 120), 10), 3600))
    from due where o.id = due.id
    returning o.*
  )
  select c.id, c.kind, c.message, c.page, c.attempts, p.display_name, cr.email, cr.email_verified_at is not null,
         p.timezone, c.appointment_id, a.series_id, c.ics_method, c.ics_sequence, a.starts_at, a.ends_at,
         cp.timezone,
         (select o.display_name from public.profiles o
          where o.id = case when a.consultant_id = c.recipient_id then a.client_id else a.consultant_id end)
  from claimed c
  join public.profiles p on p.id = c.recipient_id
  join private.credentials cr on cr.user_id = c.recipient_id
  left join public.appointments a on a.id = c.appointment_id
  left join public.profiles cp on cp.id = a.consultant_id
  order by c.id
$$;
revoke all on function public.outbox_claim(integer, integer) from public, anon, authenticated, portal_member;
grant execute on function public.outbox_claim(integer, integer) to service_role;

create function public.outbox_settle(p_id bigint, p_outcome text, p_detail text default null)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  claimed private.outbox;
begin
  if p_outcome not in ('sent', 'held', 'retry') then
    raise exception 'An outcome is sent, held or retry.' using detail = 'outcome';
  end if;
  select * into claimed from private.outbox o where o.id = p_id for update;
  if claimed.id is null or claimed.status <> 'sending' then
    return;  -- settled already (a lease that ran out and another sender's success)
  end if;
  update private.outbox o set
    status = case when p_outcome = 'retry' and claimed.attempts >= 8 then 'failed'
                  when p_outcome = 'retry' then 'queued' else p_outcome end,
    -- Back-off: 1, 2, 4 ... minutes, at most an hour, then failed after 8 attempts.
    next_attempt_at = case when p_outcome = 'retry'
                           then now() + least(interval '1 hour', interval '1 minute' * power(2, claimed.attempts - 1))
                           else claimed.next_attempt_at end,
    lease_until = null,
    last_error = case when p_outcome = 'sent' then null else left(p_detail, 500) end,
    delivered_to = case when p_outcome = 'sent' then left(p_detail, 320) else o.delivered_to end,
    settled_at = case when p_outcome in ('sent', 'held') or (p_outcome = 'retry' and claimed.attempts >= 8)
                      then now() end
  where o.id = p_id;
end;
$$;
revoke all on function public.outbox_settle(bigint, text, text) from public, anon, authenticated, portal_member;
grant execute on function public.outbox_settle(bigint, text, text) to service_role;
