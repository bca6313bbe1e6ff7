-- Busy times from the consultant's own calendar (#27).
--
-- A consultant connects calendars (a secret iCalendar address, or a CalDAV account); the sender process reads
-- them and stores only when each is busy: start and end, never a title, attendee or description. The address
-- or account is stored sealed (Fernet, with a key only the portal's server holds), and no member reads it
-- back: its owner sees the mask the server made when it was added, the admin nothing. Slots over a busy time
-- are not offered, and a booking whose time became busy since the slot was shown is refused as a taken slot.

-- A consultant's calendars. In `private`: no API role has any privilege; the functions below are the doors.
create table private.consultant_calendars (
  id                uuid primary key default gen_random_uuid(),
  consultant_id     uuid not null references public.profiles (id) on delete cascade,
  kind              text not null check (kind in ('ics_url', 'caldav')),
  label             text not null check (char_length(label) >= 1 and char_length(label) <= 80 and label !~ '[\r\n]'),
  sealed_secret     text not null check (char_length(sealed_secret) between 1 and 8000),
  masked_secret     text not null check (char_length(masked_secret) between 1 and 200),
  write_sessions    boolean not null default false,
  created_at        timestamptz not null default now(),
  last_read_at      timestamptz,
  last_ok_at        timestamptz,
  last_error        text check (char_length(last_error) <= 500),
  owner_told_at     timestamptz,
  check (kind = 'caldav' or not write_sessions)
);
create index consultant_calendars_consultant on private.consultant_calendars (consultant_id);
alter table private.consultant_calendars enable row level security;  -- no policy: only definers read it
revoke all on private.consultant_calendars from public, anon, authenticated, portal_member, service_role;

-- When a consultant is busy by their own calendar: only the interval, and which calendar said so.
create table private.calendar_busy (
  calendar_id   uuid not null references private.consultant_calendars (id) on delete cascade,
  consultant_id uuid not null references public.profiles (id) on delete cascade,
  busy          tstzrange not null check (not isempty(busy) and not lower_inf(busy) and not upper_inf(busy))
);
create index calendar_busy_consultant on private.calendar_busy (consultant_id, upper(busy));
create index calendar_busy_calendar on private.calendar_busy (calendar_id);
alter table private.calendar_busy enable row level security;  -- no policy: only definers read it
revoke all on private.calendar_busy from public, anon, authenticated, portal_member, service_role;

-- The caller's calendars, the secret masked (the mask was made by the server from the plaintext it sealed).
create function public.my_calendars()
returns table (id uuid, kind text, label text, masked_secret text, write_sessions boolean, created_at timestamptz,
               last_read_at timestamptz, last_ok_at timestamptz, last_error text)
language sql
stable
security definer
set search_path = ''
as $$
  select c.id, c.kind, c.label, c.masked_secret, c.write_sessions, c.created_at, c.last_read_at, c.last_ok_at,
         c.last_error
  from private.consultant_calendars c
  where c.consultant_id = auth.uid()
  order by c.created_at, c.id
$$;
revoke all on function public.my_calendars() from public, anon, authenticated;
grant execute on function public.my_calendars() to portal_member;

-- Connects a calendar to the caller's availability. The server seals the address or account before calling;
-- the database never sees it in the clear. At most 10 calendars per consultant.
create function public.add_my_calendar(p_kind text, p_label text, p_sealed_secret text, p_masked_secret text,
                                       p_write_sessions boolean default false)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  added uuid;
begin
  if auth.uid() is null then
    raise exception 'Sign in first.' using errcode = '42501';
  end if;
  if not exists (select 1 from public.profiles p where p.id = auth.uid() and p.is_consultant) then
    raise exception 'Only a consultant connects a calendar to their availability.' using detail = 'kind';
  end if;
  if p_kind is null or p_kind not in ('ics_url', 'caldav') then
    raise exception 'Calendar kind must be an iCalendar address or a CalDAV account.'
      using errcode = '22023', detail = 'kind';
  end if;
  if nullif(btrim(coalesce(p_label, '')), '') is null or char_length(btrim(p_label)) > 80 or p_label ~ '[\r\n]' then
    raise exception 'Calendar name must be one line of 1 to 80 characters.' using errcode = '22023', detail = 'label';
  end if;
  if coalesce(char_length(p_sealed_secret), 0) not between 1 and 8000
     or coalesce(char_length(p_masked_secret), 0) not between 1 and 200 then
    raise exception 'Calendar address or account is missing or too long.' using errcode = '22023', detail = 'secret';
  end if;
  if coalesce(p_write_sessions, false) and p_kind <> 'caldav' then
    raise exception 'Sessions can be written only into a CalDAV calendar, not an iCalendar address.'
      using errcode = '22023', detail = 'write_sessions';
  end if;
  perform 1 from public.profiles p where p.id = auth.uid() for update;  -- one add at a time counts right
  if (select count(*) from private.consultant_calendars c where c.consultant_id = auth.uid()) >= 10 then
    raise exception 'You can connect at most 10 calendars; remove one first.' using errcode = '22023',
      detail = 'calendars';
  end if;
  insert into private.consultant_calendars (consultant_id, kind, label, sealed_secret, masked_secret, write_sessions)
  values (auth.uid(), p_kind, btrim(p_label), p_sealed_secret, p_masked_secret, coalesce(p_write_sessions, false))
  returning id into added;
  return added;
end;
$$;
revoke all on function public.add_my_calendar(text, text, text, text, boolean) from public, anon, authenticated;
grant execute on function public.add_my_calendar(text, text, text, text, boolean) to portal_member;

-- Disconnects one of the caller's calendars; its busy times go with it.
create function public.remove_my_calendar(p_calendar uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from private.consultant_calendars c where c.id = p_calendar and c.consultant_id = auth.uid();
  if not found then
    raise exception 'No such calendar.' using errcode = 'PT404', detail = 'calendar';
  end if;
end;
$$;
revoke all on function public.remove_my_calendar(uuid) from public, anon, authenticated;
grant execute on function public.remove_my_calendar(uuid) to portal_member;

-- The caller's own busy times (merged across calendars) between two instants, for their week view: no reason.
create function public.my_busy_times(p_from timestamptz, p_to timestamptz)
returns table (starts_at timestamptz, ends_at timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
  select lower(m.r), upper(m.r)
  from unnest((select coalesce(range_agg(b.busy), '{}'::tstzmultirange)
               from private.calendar_busy b
               where b.consultant_id = auth.uid() and b.busy && tstzrange(p_from, p_to)
                 and p_to - p_from <= interval '93 days')) as m(r)
  order by 1
$$;
revoke all on function public.my_busy_times(timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function public.my_busy_times(timestamptz, timestamptz) to portal_member;

-- The sender's (or a "Read now") claim of calendars to read: every calendar not read for p_every_minutes,
-- or all of one consultant's now. Marks them read at once, so two sweeps never read the same calendar twice.
create function public.calendars_due(p_every_minutes integer default 5, p_limit integer default 20,
                                     p_consultant uuid default null)
returns table (id uuid, consultant_id uuid, kind text, sealed_secret text, write_sessions boolean)
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select c.id from private.consultant_calendars c
    where (p_consultant is null
           and (c.last_read_at is null
                or c.last_read_at < now() - make_interval(mins => greatest(coalesce(p_every_minutes, 5), 1))))
       or c.consultant_id = p_consultant
    order by c.last_read_at nulls first, c.id
    limit least(greatest(coalesce(p_limit, 20), 1), 200)
    for update skip locked
  )
  update private.consultant_calendars c set last_read_at = now()
  from due where c.id = due.id
  returning c.id, c.consultant_id, c.kind, c.sealed_secret, c.write_sessions
$$;
revoke all on function public.calendars_due(integer, integer, uuid) from public, anon, authenticated, portal_member;
grant execute on function public.calendars_due(integer, integer, uuid) to service_role;

-- What a read found. Given busy intervals ([[start, end], ...], at most 5000), they replace the calendar's;
-- given an error sentence, the calendar keeps its last busy times (a failed read says nothing about the day)
-- and its owner is told once, until it reads again.
create function public.calendar_reading_done(p_calendar uuid, p_busy jsonb default null, p_error text default null)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  cal private.consultant_calendars;
begin
  select * into cal from private.consultant_calendars c where c.id = p_calendar for update;
  if not found then
    return;  -- removed while it was being read
  end if;
  if p_error is not null then
    update private.consultant_calendars c
    set last_error = left(p_error, 500), owner_told_at = coalesce(c.owner_told_at, now())
    where c.id = p_calendar;
    if cal.owner_told_at is null then
      perform private.notify(cal.consultant_id, 'calendar_unread',
        'Your calendar "' || cal.label || '" could not be read: ' || left(p_error, 300)
        || ' Until it reads again, the busy times it last gave are kept.', 'availability');
    end if;
    return;
  end if;
  if p_busy is null or jsonb_typeof(p_busy) <> 'array' or jsonb_array_length(p_busy) > 5000 then
    raise exception 'Busy times must be a list of at most 5000 [start, end] pairs.' using errcode = '22023',
      detail = 'busy';
  end if;
  delete from private.calendar_busy b where b.calendar_id = p_calendar;
  insert into private.calendar_busy (calendar_id, consultant_id, busy)
  select p_calendar, cal.consultant_id, tstzrange((e ->> 0)::timestamptz, (e ->> 1)::timestamptz)
  from jsonb_array_elements(p_busy) e
  where (e ->> 0)::timestamptz < (e ->> 1)::timestamptz;
  update private.consultant_calendars c set last_ok_at = now(), last_error = null, owner_told_at = null
  where c.id = p_calendar;
end;
$$;
revoke all on function public.calendar_reading_done(uuid, jsonb, text) from public, anon, authenticated, portal_member;
grant execute on function public.calendar_reading_done(uuid, jsonb, text) to service_role;

-- A booking (or a move, which books the new time) over a time the consultant's calendar says is busy is
-- refused as a taken slot, whichever function writes it: the slot may have been shown before the calendar
-- was read. The buffer after a busy time is kept as after a session.
create function private.bookings_avoid_calendar_busy()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.status in ('requested', 'confirmed') and exists (
       select 1 from private.calendar_busy b
       join public.availability_settings s on s.consultant_id = b.consultant_id
       where b.consultant_id = new.consultant_id
         and tstzrange(lower(b.busy), upper(b.busy) + make_interval(mins => s.buffer_minutes))
             && tstzrange(new.starts_at, new.blocked_until)) then
    raise exception 'That time was just taken, or is no longer open.'
      using errcode = 'P0001', detail = 'slot_taken', hint = 'Pick another time from the fresh list.';
  end if;
  return new;
end;
$$;
revoke all on function private.bookings_avoid_calendar_busy() from public, anon, authenticated, portal_member,
  service_role;
create trigger bookings_avoid_calendar_busy before insert on public.appointments
  for each row execute function private.bookings_avoid_calendar_busy();

-- Open slots, as in …0500 (the catalog's definition), minus the consultant's calendar busy times with the
-- buffer after each. Calendar busy times do not count towards the weekly maximum: they are not sessions.
create or replace function public.open_slots(p_consultant uuid, p_from date, p_to date, p_client uuid default null)
returns table (starts_at timestamptz, ends_at timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
  with cfg as (
    select p.timezone as tz, s.session_minutes, s.buffer_minutes, s.min_notice_hours, s.max_sessions_per_week
    from public.profiles p join public.availability_settings s on s.consultant_id = p.id
    where p.id = p_consultant and p.is_consultant
  ),
  days as (
    -- At most 93 days; an infinite date fails here (22008) instead of generating forever.
    select p_from + n as day from generate_series(0, least(p_to - p_from, 92)) n
  ),
  ranges as (
    -- A date with overrides uses them (null times = day off); other dates use the weekly hours.
    select days.day, o.starts_at as from_t, o.ends_at as to_t
    from days join public.date_overrides o on o.consultant_id = p_consultant and o.on_date = days.day
    where o.starts_at is not null
    union all
    select days.day, h.starts_at, h.ends_at
    from days join public.weekly_hours h
      on h.consultant_id = p_consultant and h.weekday = extract(isodow from days.day)
    where not exists (select 1 from public.date_overrides o where o.consultant_id = p_consultant
                                                            and o.on_date = days.day)
  ),
  candidates as materialized (
    -- Each candidate's instant, blocked span and week computed once (not once per busy range).
    select s.starts_at, s.session_minutes,
           tstzrange(s.starts_at, s.starts_at + make_interval(mins => s.session_minutes + s.buffer_minutes)) as span,
           date_trunc('week', s.starts_at at time zone s.tz) as week
    from (
      select ((r.day + r.from_t + make_interval(mins => n * (cfg.session_minutes + cfg.buffer_minutes)))
                at time zone cfg.tz) as starts_at,
             cfg.session_minutes, cfg.buffer_minutes, cfg.tz
      from ranges r cross join cfg
      cross join lateral generate_series(
        0, floor(extract(epoch from (r.to_t - r.from_t)) / 60 - cfg.session_minutes)::int
           / (cfg.session_minutes + cfg.buffer_minutes)) n
      where not exists (select 1 from public.time_off t
                        where t.consultant_id = p_consultant and r.day between t.starts_on and t.ends_on)
    ) s
  ),
  busy as (
    select tstzrange(a.starts_at, a.blocked_until) as blocked, a.client_id, a.consultant_id,
           date_trunc('week', a.starts_at at time zone (select tz from cfg)) as week
    from public.appointments a
    -- A client's own busy times count only when the caller is that client or their consultant.
    -- A client's sessions elsewhere count only when the caller is that client, or the consultant they
    -- work with or asked: anyone else could read another member's diary from the slots that vanish.
    where (a.consultant_id = p_consultant
           or (p_client is not null and a.client_id = p_client
               and (auth.uid() = p_client
                    or (auth.uid() = p_consultant
                        and (exists (select 1 from public.engagements e
                                     where e.consultant_id = p_consultant and e.seeker_id = p_client
                                       and e.status = 'active')
                             or exists (select 1 from public.consultation_requests r
                                        where r.consultant_id = p_consultant and r.seeker_id = p_client
                                          and r.status = 'pending'))))))
      and a.status in ('requested', 'confirmed')
      and a.starts_at < ((p_to + 2)::timestamp at time zone (select tz from cfg))
      and a.blocked_until > ((p_from - 1)::timestamp at time zone (select tz from cfg))
  ),
  calendar_busy as (
    -- The consultant's own calendar, with the buffer after each busy time (as after a session).
    select tstzrange(lower(b.busy), upper(b.busy) + make_interval(mins => cfg.buffer_minutes)) as blocked
    from private.calendar_busy b, cfg
    where b.consultant_id = p_consultant
      and upper(b.busy) > ((p_from - 1)::timestamp at time zone cfg.tz)
      and lower(b.busy) < ((p_to + 2)::timestamp at time zone cfg.tz)
  ),
  full_weeks as (
    select b.week from busy b, cfg
    where b.consultant_id = p_consultant and cfg.max_sessions_per_week is not null
    group by b.week, cfg.max_sessions_per_week
    having count(*) >= cfg.max_sessions_per_week
  )
  select c.starts_at, c.starts_at + make_interval(mins => c.session_minutes)
  from candidates c, cfg
  where c.starts_at >= now() + make_interval(hours => cfg.min_notice_hours)
    -- All busy ranges as one multirange, built once: each candidate is one (logarithmic) overlap test.
    and not (c.span && (select coalesce(range_agg(b.blocked), '{}'::tstzmultirange)
                        from (select blocked from busy union all select blocked from calendar_busy) b))
    and c.week not in (select week from full_weeks)
  order by c.starts_at
$$;

-- The sessions the sweep writes into a CalDAV calendar whose owner chose it: the owner's sessions still to come,
-- proposed or confirmed, each by its series (a moved session keeps its series, so its event moves). Cancelled,
-- declined and moved-away sessions are absent: the sweep removes their events.
create function public.calendar_sessions(p_calendar uuid)
returns table (series_id uuid, starts_at timestamptz, ends_at timestamptz, status text)
language sql
stable
security definer
set search_path = ''
as $$
  select a.series_id, a.starts_at, a.ends_at, a.status
  from private.consultant_calendars c
  join public.appointments a on a.consultant_id = c.consultant_id
  where c.id = p_calendar and c.write_sessions
    and a.status in ('requested', 'confirmed') and a.ends_at > now()
  order by a.starts_at
  limit 2000
$$;
revoke all on function public.calendar_sessions(uuid) from public, anon, authenticated, portal_member;
grant execute on function public.calendar_sessions(uuid) to service_role;
