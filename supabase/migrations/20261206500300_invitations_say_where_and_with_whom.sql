-- Invitations say where and with whom (#22, item 5).
--
-- Gmail, Outlook and Apple Calendar recognise a meeting by a text/calendar body part whose ORGANIZER and
-- ATTENDEEs name the people, and show its LOCATION as the place to go. The consultant says where their
-- sessions happen (a telehealth link or an office address) on My practice; it is theirs to write and is read
-- by no other member: it travels only inside the invitations of the consultant's own sessions, to the
-- consultant and that session's client. The sender's claim now returns it with the consultant's name (the
-- invitation's organiser).

create table public.session_locations (
  consultant_id uuid primary key references public.profiles (id) on delete cascade,
  location      text not null,
  updated_at    timestamptz not null default now()
);
alter table public.session_locations enable row level security;
revoke all on public.session_locations from public, anon, authenticated;
grant select, insert, update, delete on public.session_locations to portal_member;
grant all on public.session_locations to service_role;
create policy "a consultant reads and writes their own session location" on public.session_locations
  for all to portal_member using (consultant_id = (select auth.uid())) with check (consultant_id = (select auth.uid()));

-- The rule for what a location may be, stated once (the save below and any direct write).
create function private.session_location_is_plain()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.location := btrim(new.location);
  if new.location = '' then
    raise exception 'Say where your sessions happen: a telehealth link or an office address.'
      using errcode = '22023', detail = 'location';
  end if;
  if char_length(new.location) > 300 or new.location ~ '[[:cntrl:]\u2028\u2029]' then
    raise exception 'Where your sessions happen is one line of at most 300 characters.'
      using errcode = '22023', detail = 'location';
  end if;
  new.updated_at := now();
  return new;
end;
$$;
revoke all on function private.session_location_is_plain() from public, anon, authenticated, service_role;
create trigger session_locations_are_plain before insert or update on public.session_locations
  for each row execute function private.session_location_is_plain();

create function public.get_my_session_location()
returns text
language sql
stable
set search_path = ''
as $$
  select l.location from public.session_locations l where l.consultant_id = auth.uid()
$$;
revoke all on function public.get_my_session_location() from public, anon, authenticated;
grant execute on function public.get_my_session_location() to portal_member;

-- Saves (or, given nothing, removes) where the caller's sessions happen; returns what is stored.
create function public.save_my_session_location(p_location text)
returns text
language plpgsql
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'Sign in first.' using errcode = '42501';
  end if;
  if nullif(btrim(coalesce(p_location, '')), '') is null then
    delete from public.session_locations where consultant_id = auth.uid();
    return null;
  end if;
  insert into public.session_locations (consultant_id, location) values (auth.uid(), p_location)
  on conflict (consultant_id) do update set location = excluded.location;
  return (select l.location from public.session_locations l where l.consultant_id = auth.uid());
end;
$$;
revoke all on function public.save_my_session_location(text) from public, anon, authenticated;
grant execute on function public.save_my_session_location(text) to portal_member;

-- The sender's claim, as in …2500, with the session's location and the consultant's name.
drop function public.outbox_claim(integer, integer);
create function public.outbox_claim(p_limit integer default 20, p_lease_seconds integer default 120)
returns table (id bigint, kind text, message text, page text, attempts integer, recipient_name text,
               recipient_email text, email_verified boolean, recipient_timezone text, appointment_id uuid,
               series_id uuid, ics_method text, ics_sequence integer, starts_at timestamptz, ends_at timestamptz,
               consultant_timezone text, other_name text, summary boolean, recipient_id uuid, plan_id uuid,
               consultant_name text, session_location text)
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select o.id from private.outbox o
    where (o.status = 'queued' and o.next_attempt_at <= now())
       or (o.status = 'sending' and o.lease_until < now())
    order by o.next_attempt_at, o.recipient_id, o.id
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
          where o.id = case when a.consultant_id = c.recipient_id then a.client_id else a.consultant_id end),
         c.summary, c.recipient_id, c.plan_id, cp.display_name, sl.location
  from claimed c
  join public.profiles p on p.id = c.recipient_id
  join private.credentials cr on cr.user_id = c.recipient_id
  left join public.appointments a on a.id = c.appointment_id
  left join public.profiles cp on cp.id = a.consultant_id
  left join public.session_locations sl on sl.consultant_id = a.consultant_id
  order by c.recipient_id, c.id
$$;
revoke all on function public.outbox_claim(integer, integer) from public, anon, authenticated, portal_member;
grant execute on function public.outbox_claim(integer, integer) to service_role;
