-- Availability (date overrides, time off), open slots computed in the
-- consultant's zone, appointments that can never double-book, cancellation
-- notice, notifications, and each member's professionalism record.

-- ---------------------------------------------------------------------------
-- Date overrides and time off (weekly hours and settings exist already)
-- ---------------------------------------------------------------------------
create table public.date_overrides (
  id             uuid primary key default gen_random_uuid(),
  consultant_id  uuid not null references public.profiles (id) on delete cascade,
  on_date        date not null,
  starts_at      time,   -- both null: the whole day off
  ends_at        time,
  constraint date_overrides_hours check ((starts_at is null) = (ends_at is null)
                                         and (ends_at is null or ends_at > starts_at))
);
create index date_overrides_consultant_idx on public.date_overrides (consultant_id, on_date);

create table public.time_off (
  id             uuid primary key default gen_random_uuid(),
  consultant_id  uuid not null references public.profiles (id) on delete cascade,
  starts_on      date not null,
  ends_on        date not null,
  note           text check (char_length(note) <= 200),
  constraint time_off_order check (ends_on >= starts_on)
);
create index time_off_consultant_idx on public.time_off (consultant_id, starts_on, ends_on);

alter table public.date_overrides enable row level security;
alter table public.time_off enable row level security;
revoke all on public.date_overrides, public.time_off from public, anon, authenticated;
grant select, insert, update, delete on public.date_overrides, public.time_off to authenticated;
grant all on public.date_overrides, public.time_off to service_role;
create policy "consultants manage own overrides" on public.date_overrides for all to authenticated
  using (consultant_id = (select auth.uid())) with check (consultant_id = (select auth.uid()));
create policy "consultants manage own time off" on public.time_off for all to authenticated
  using (consultant_id = (select auth.uid())) with check (consultant_id = (select auth.uid()));

-- ---------------------------------------------------------------------------
-- Appointments. A consultant and a client can never be double-booked: two
-- exclusion constraints over the active appointments' time ranges (the
-- consultant's range includes their buffer after the session).
-- ---------------------------------------------------------------------------
create table public.appointments (
  id               uuid primary key default gen_random_uuid(),
  consultant_id    uuid not null references public.profiles (id) on delete cascade,
  client_id        uuid not null references public.profiles (id) on delete cascade,
  engagement_id    uuid references public.engagements (id) on delete set null,
  request_id       uuid references public.consultation_requests (id) on delete set null,
  starts_at        timestamptz not null,
  ends_at          timestamptz not null,
  blocked_until    timestamptz not null,  -- ends_at + the consultant's buffer when booked
  status           text not null default 'requested'
                   check (status in ('requested', 'confirmed', 'declined', 'cancelled', 'completed', 'no_show')),
  requested_by     uuid not null references public.profiles (id),
  responded_at     timestamptz,
  decline_reason   text check (char_length(decline_reason) <= 500),
  cancelled_by     uuid references public.profiles (id),
  cancelled_at     timestamptz,
  cancel_reason    text check (char_length(cancel_reason) <= 500),
  notice_hours     numeric(8, 1),
  late             boolean not null default false,
  rescheduled_from uuid references public.appointments (id),
  created_at       timestamptz not null default now(),
  constraint appointments_order check (ends_at > starts_at and blocked_until >= ends_at),
  constraint appointments_parties check (consultant_id <> client_id),
  constraint appointments_linked check (engagement_id is not null or request_id is not null),
  constraint appointments_consultant_free exclude using gist (
    consultant_id with =, tstzrange(starts_at, blocked_until) with &&)
    where (status in ('requested', 'confirmed')),
  constraint appointments_client_free exclude using gist (
    client_id with =, tstzrange(starts_at, ends_at) with &&)
    where (status in ('requested', 'confirmed'))
);
create index appointments_consultant_time_idx on public.appointments (consultant_id, starts_at);
create index appointments_client_time_idx on public.appointments (client_id, starts_at);
-- Professionalism records count each member's cancellations.
create index appointments_cancelled_by_idx on public.appointments (cancelled_by) where status = 'cancelled';

alter table public.appointments enable row level security;
revoke all on public.appointments from public, anon, authenticated;
grant select on public.appointments to authenticated;
grant all on public.appointments to service_role;
create policy "parties read their appointments" on public.appointments for select to authenticated
  using ((select auth.uid()) in (consultant_id, client_id));

-- ---------------------------------------------------------------------------
-- Notifications: written by the portal's functions, read and marked by their owner.
-- ---------------------------------------------------------------------------
create table public.notifications (
  id          uuid primary key default gen_random_uuid(),
  user_id     uuid not null references public.profiles (id) on delete cascade,
  kind        text not null,
  message     text not null,
  page        text,
  created_at  timestamptz not null default now(),
  read_at     timestamptz
);
create index notifications_user_idx on public.notifications (user_id, created_at desc);
create index notifications_unread_idx on public.notifications (user_id) where read_at is null;
alter table public.notifications enable row level security;
revoke all on public.notifications from public, anon, authenticated;
grant select on public.notifications to authenticated;
grant update (read_at) on public.notifications to authenticated;
grant all on public.notifications to service_role;
create policy "members read their notifications" on public.notifications for select to authenticated
  using (user_id = (select auth.uid()));
create policy "members mark their notifications read" on public.notifications for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));

create function private.notify(p_user uuid, p_kind text, p_message text, p_page text)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  insert into public.notifications (user_id, kind, message, page) values (p_user, p_kind, p_message, p_page)
$$;
revoke all on function private.notify(uuid, text, text, text) from public, anon, authenticated;

-- Requests notify: new request to the consultant; the answer to the seeker.
create function private.notify_request_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  seeker_name text := (select display_name from public.profiles where id = new.seeker_id);
  consultant_name text := (select display_name from public.profiles where id = new.consultant_id);
begin
  if tg_op = 'INSERT' then
    perform private.notify(new.consultant_id, 'request', seeker_name || ' asked you for a consultation.',
                           'requests');
  elsif new.status is distinct from old.status and new.status in ('accepted', 'declined') then
    perform private.notify(new.seeker_id, new.status,
                           consultant_name || case when new.status = 'accepted' then ' accepted your request.'
                                                   else ' declined your request.' end, 'requests');
  end if;
  return null;
end;
$$;
revoke all on function private.notify_request_events() from public, anon, authenticated;
create trigger requests_notify after insert or update of status on public.consultation_requests
  for each row execute function private.notify_request_events();

-- ---------------------------------------------------------------------------
-- Open slots, in the consultant's zone: weekly hours (or that date's override)
-- minus time off, active appointments with buffers, the notice window and the
-- weekly maximum; optionally also minus the client's own appointments.
-- Local times are turned into instants with AT TIME ZONE, so a slot at 09:00
-- stays at 09:00 local across daylight-saving changes.
-- ---------------------------------------------------------------------------
create function public.open_slots(p_consultant uuid, p_from date, p_to date, p_client uuid default null)
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
    and not (c.span && (select coalesce(range_agg(b.blocked), '{}'::tstzmultirange) from busy b))
    and c.week not in (select week from full_weeks)
  order by c.starts_at
$$;
revoke all on function public.open_slots(uuid, date, date, uuid) from public, anon;
grant execute on function public.open_slots(uuid, date, date, uuid) to authenticated;

-- ---------------------------------------------------------------------------
-- Booking
-- ---------------------------------------------------------------------------
create function public.book_appointment(p_other uuid, p_starts_at timestamptz)
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
                         || to_char(p_starts_at at time zone (select timezone from public.profiles
                                                              where id = case when me = consultant then client
                                                                              else consultant end),
                                    'Dy DD Mon at HH24:MI') || '.', 'appointments');
  return booked;
exception when exclusion_violation or deadlock_detected then
  raise exception 'That time was just taken.' using detail = 'slot_taken',
    hint = 'Someone booked it a moment ago. Pick another time from the fresh list.';
end;
$$;
revoke all on function public.book_appointment(uuid, timestamptz) from public, anon;
grant execute on function public.book_appointment(uuid, timestamptz) to authenticated;

create function public.respond_to_appointment(p_appointment uuid, p_confirm boolean, p_reason text default null)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  appt public.appointments;
begin
  select * into appt from public.appointments where id = p_appointment for update;
  if appt.id is null or me not in (appt.consultant_id, appt.client_id) then
    raise exception 'No such appointment.' using errcode = 'P0002';
  end if;
  if appt.requested_by = me then
    raise exception 'The other party confirms or declines a session you proposed.' using detail = 'status';
  end if;
  if appt.status <> 'requested' then
    raise exception 'This session was already answered.' using detail = 'status', hint = 'Reload the page.';
  end if;
  if not p_confirm and char_length(btrim(coalesce(p_reason, ''))) = 0 then
    raise exception 'Give a reason when you decline a proposed time.' using detail = 'reason';
  end if;
  update public.appointments
  set status = case when p_confirm then 'confirmed' else 'declined' end, responded_at = now(),
      decline_reason = case when p_confirm then null else btrim(p_reason) end
  where id = appt.id returning * into appt;
  perform private.notify(appt.requested_by, case when p_confirm then 'confirmed' else 'declined' end,
                         (select display_name from public.profiles where id = me)
                         || case when p_confirm then ' confirmed the session.' else ' declined the proposed time.' end,
                         'appointments');
  return appt;
end;
$$;
revoke all on function public.respond_to_appointment(uuid, boolean, text) from public, anon;
grant execute on function public.respond_to_appointment(uuid, boolean, text) to authenticated;

-- Cancelling records the notice given. Inside the late-cancellation threshold
-- the caller must confirm they accept it is recorded as late.
create function public.cancel_appointment(p_appointment uuid, p_reason text, p_accept_late boolean default false)
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
  notice := round(extract(epoch from appt.starts_at - now()) / 3600.0, 1);
  if notice < threshold and appt.status = 'confirmed' and not coalesce(p_accept_late, false) then
    raise exception 'This is a late cancellation: % hours before the session, inside the % hour threshold.',
                    notice, threshold
      using detail = 'late', hint = 'Confirm to cancel anyway; it will be recorded as late.';
  end if;
  update public.appointments
  set status = 'cancelled', cancelled_by = me, cancelled_at = now(), cancel_reason = btrim(p_reason),
      notice_hours = notice, late = notice < threshold and appt.status = 'confirmed'
  where id = appt.id returning * into appt;
  perform private.notify(case when me = appt.consultant_id then appt.client_id else appt.consultant_id end,
                         case when appt.late then 'late_cancellation' else 'cancelled' end,
                         (select display_name from public.profiles where id = me) || ' cancelled the session on '
                         || to_char(appt.starts_at, 'YYYY-MM-DD HH24:MI "UTC"')
                         || case when appt.late then ' (late: ' || notice || ' hours notice)' else '' end
                         || ': ' || appt.cancel_reason, 'appointments');
  return appt;
end;
$$;
revoke all on function public.cancel_appointment(uuid, text, boolean) from public, anon;
grant execute on function public.cancel_appointment(uuid, text, boolean) to authenticated;

create function public.reschedule_appointment(p_appointment uuid, p_new_starts_at timestamptz, p_reason text,
                                              p_accept_late boolean default false)
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
begin
  old_appt := public.cancel_appointment(p_appointment, p_reason, p_accept_late);
  new_appt := public.book_appointment(case when me = old_appt.consultant_id then old_appt.client_id
                                           else old_appt.consultant_id end, p_new_starts_at);
  update public.appointments set rescheduled_from = old_appt.id where id = new_appt.id returning * into new_appt;
  perform private.notify(case when me = old_appt.consultant_id then old_appt.client_id else old_appt.consultant_id end,
                         'rescheduled', (select display_name from public.profiles where id = me)
                         || ' asked to move a session; confirm the new time.', 'appointments');
  return new_appt;
end;
$$;
revoke all on function public.reschedule_appointment(uuid, timestamptz, text, boolean) from public, anon;
grant execute on function public.reschedule_appointment(uuid, timestamptz, text, boolean) to authenticated;

create function public.mark_appointment(p_appointment uuid, p_outcome text)
returns public.appointments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  appt public.appointments;
begin
  select * into appt from public.appointments where id = p_appointment for update;
  if appt.id is null or appt.consultant_id is distinct from auth.uid() then
    raise exception 'Only the consultant marks a session kept or missed.' using errcode = '42501';
  end if;
  if p_outcome not in ('completed', 'no_show') then
    raise exception 'Mark the session completed or no-show.' using detail = 'outcome';
  end if;
  if appt.status <> 'confirmed' or appt.ends_at > now() then
    raise exception 'Only a confirmed session that has ended can be marked.' using detail = 'status';
  end if;
  update public.appointments set status = p_outcome where id = appt.id returning * into appt;
  return appt;
end;
$$;
revoke all on function public.mark_appointment(uuid, text) from public, anon;
grant execute on function public.mark_appointment(uuid, text) to authenticated;

create function public.my_appointments(p_from timestamptz default null, p_to timestamptz default null)
returns table (id uuid, other_id uuid, other_name text, my_role text, starts_at timestamptz, ends_at timestamptz,
               status text, requested_by_me boolean, decline_reason text, cancel_reason text,
               cancelled_by_me boolean, notice_hours numeric, late boolean, rescheduled_from uuid,
               other_timezone text)
language sql
stable
set search_path = ''
as $$
  select a.id,
         case when a.consultant_id = auth.uid() then a.client_id else a.consultant_id end,
         p.display_name,
         case when a.consultant_id = auth.uid() then 'consultant' else 'client' end,
         a.starts_at, a.ends_at, a.status, a.requested_by = auth.uid(), a.decline_reason, a.cancel_reason,
         a.cancelled_by = auth.uid(), a.notice_hours, a.late, a.rescheduled_from, p.timezone
  from public.appointments a
  join public.profiles p on p.id = case when a.consultant_id = auth.uid() then a.client_id else a.consultant_id end
  where auth.uid() in (a.consultant_id, a.client_id)
    and (p_from is null or a.ends_at >= p_from) and (p_to is null or a.starts_at < p_to)
  order by a.starts_at, a.id
$$;
revoke all on function public.my_appointments(timestamptz, timestamptz) from public, anon;
grant execute on function public.my_appointments(timestamptz, timestamptz) to authenticated;

-- The consultant's view of a client appointments page needs the other party's profile: consultants
-- already see their requesters; clients see consultants. Nothing more is opened.

-- ---------------------------------------------------------------------------
-- My availability (consultants)
-- ---------------------------------------------------------------------------
create function public.get_my_availability()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'timezone', (select timezone from public.profiles where id = auth.uid()),
    'settings', (select jsonb_build_object(
                   'session_minutes', s.session_minutes, 'buffer_minutes', s.buffer_minutes,
                   'min_notice_hours', s.min_notice_hours, 'max_sessions_per_week', s.max_sessions_per_week,
                   'late_cancel_hours', s.late_cancel_hours, 'capacity', s.capacity,
                   'accepting_new_clients', s.accepting_new_clients, 'version', s.version)
                 from public.availability_settings s where s.consultant_id = auth.uid()),
    'weekly_hours', coalesce((select jsonb_agg(jsonb_build_object('weekday', h.weekday, 'starts_at', h.starts_at,
                                                                  'ends_at', h.ends_at) order by h.weekday, h.starts_at)
                              from public.weekly_hours h where h.consultant_id = auth.uid()), '[]'),
    'overrides', coalesce((select jsonb_agg(jsonb_build_object('on_date', o.on_date, 'starts_at', o.starts_at,
                                                               'ends_at', o.ends_at) order by o.on_date, o.starts_at)
                           from public.date_overrides o where o.consultant_id = auth.uid()
                             and o.on_date >= current_date - 1), '[]'),
    'time_off', coalesce((select jsonb_agg(jsonb_build_object('starts_on', t.starts_on, 'ends_on', t.ends_on,
                                                              'note', t.note) order by t.starts_on)
                          from public.time_off t where t.consultant_id = auth.uid()
                            and t.ends_on >= current_date - 1), '[]'))
$$;
revoke all on function public.get_my_availability() from public, anon;
grant execute on function public.get_my_availability() to authenticated;

-- Saves the whole availability form; the settings row's version catches concurrent edits.
create function public.save_my_availability(p_settings jsonb, p_weekly_hours jsonb, p_overrides jsonb,
                                            p_time_off jsonb, p_expected_version integer)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  me uuid := auth.uid();
begin
  if me is null then
    raise exception 'Sign in to change your availability.' using errcode = '42501';
  end if;
  update public.availability_settings s set
    session_minutes       = (p_settings ->> 'session_minutes')::smallint,
    buffer_minutes        = (p_settings ->> 'buffer_minutes')::smallint,
    min_notice_hours      = (p_settings ->> 'min_notice_hours')::smallint,
    max_sessions_per_week = (p_settings ->> 'max_sessions_per_week')::smallint,
    late_cancel_hours     = (p_settings ->> 'late_cancel_hours')::smallint,
    capacity              = coalesce((p_settings ->> 'capacity')::smallint, s.capacity),
    accepting_new_clients = coalesce((p_settings ->> 'accepting_new_clients')::boolean, s.accepting_new_clients),
    version = s.version + 1, updated_at = now()
  where s.consultant_id = me and s.version = p_expected_version;
  if not found then
    raise exception 'Your availability was changed elsewhere since this form was opened.'
      using detail = 'version', hint = 'Nothing was saved. Reload the latest version, then apply your changes again.';
  end if;
  if p_settings ? 'timezone' then
    update public.profiles set timezone = p_settings ->> 'timezone', version = version + 1, updated_at = now()
    where id = me and timezone is distinct from p_settings ->> 'timezone';
  end if;
  delete from public.weekly_hours where consultant_id = me;
  insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at)
  select me, (h ->> 'weekday')::smallint, (h ->> 'starts_at')::time, (h ->> 'ends_at')::time
  from jsonb_array_elements(coalesce(p_weekly_hours, '[]')) h;
  delete from public.date_overrides where consultant_id = me and on_date >= current_date - 1;
  insert into public.date_overrides (consultant_id, on_date, starts_at, ends_at)
  select me, (o ->> 'on_date')::date, (o ->> 'starts_at')::time, (o ->> 'ends_at')::time
  from jsonb_array_elements(coalesce(p_overrides, '[]')) o;
  delete from public.time_off where consultant_id = me and ends_on >= current_date - 1;
  insert into public.time_off (consultant_id, starts_on, ends_on, note)
  select me, (t ->> 'starts_on')::date, (t ->> 'ends_on')::date, nullif(btrim(t ->> 'note'), '')
  from jsonb_array_elements(coalesce(p_time_off, '[]')) t;
  return public.get_my_availability();
end;
$$;
revoke all on function public.save_my_availability(jsonb, jsonb, jsonb, jsonb, integer) from public, anon;
grant execute on function public.save_my_availability(jsonb, jsonb, jsonb, jsonb, integer) to authenticated;

-- ---------------------------------------------------------------------------
-- Notifications for their owner
-- ---------------------------------------------------------------------------
create function public.my_notifications(p_limit integer default 50)
returns setof public.notifications
language sql
stable
set search_path = ''
as $$
  select * from public.notifications where user_id = auth.uid()
  order by created_at desc, id limit least(greatest(coalesce(p_limit, 50), 1), 200)
$$;

create function public.unread_notification_count()
returns integer
language sql
stable
set search_path = ''
as $$
  select count(*)::integer from public.notifications where user_id = auth.uid() and read_at is null
$$;

create function public.mark_notifications_read(p_ids uuid[] default null)
returns integer
language sql
volatile
set search_path = ''
as $$
  with marked as (
    update public.notifications set read_at = now()
    where user_id = auth.uid() and read_at is null and (p_ids is null or id = any (p_ids))
    returning 1)
  select count(*)::integer from marked
$$;
revoke all on function public.my_notifications(integer), public.unread_notification_count(),
                       public.mark_notifications_read(uuid[]) from public, anon;
grant execute on function public.my_notifications(integer), public.unread_notification_count(),
                          public.mark_notifications_read(uuid[]) to authenticated;

-- ---------------------------------------------------------------------------
-- The professionalism record. A consultant's is public once it rests on at
-- least 5 events; they see their own in full. A seeker's record is visible to
-- themselves and to consultants they have an engagement with.
-- ---------------------------------------------------------------------------
-- The facts of one member's record (no visibility check: callers decide).
create function private.professionalism_facts(p_member uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with answered as (
    select extract(epoch from r.responded_at - r.created_at) / 3600.0 as hours
    from public.consultation_requests r
    where r.consultant_id = p_member and r.responded_at is not null and r.status in ('accepted', 'declined')
  ),
  cancellations as (
    select a.late from public.appointments a where a.cancelled_by = p_member and a.status = 'cancelled'
  ),
  sessions as (
    select a.status,
           case when a.consultant_id = p_member then 'consultant' else 'client' end as side
    from public.appointments a
    where (a.consultant_id = p_member or a.client_id = p_member) and a.status in ('completed', 'no_show')
  ),
  facts as (
    select (select count(*) from answered) as requests_answered,
           (select round(percentile_cont(0.5) within group (order by hours)::numeric, 1) from answered)
             as median_answer_hours,
           (select count(*) from cancellations) as cancellations,
           (select round(avg(case when late then 0 else 1 end)::numeric, 2) from cancellations)
             as cancellations_with_notice_share,
           (select count(*) from sessions) as sessions,
           (select count(*) filter (where status = 'completed') from sessions) as sessions_kept,
           (select count(*) filter (where status = 'no_show' and side = 'client') from sessions) as client_no_shows
  )
  select to_jsonb(f) || jsonb_build_object(
           'events', f.requests_answered + f.cancellations + f.sessions,
           'enough_events', f.requests_answered + f.cancellations + f.sessions >= 5)
  from facts f
$$;
revoke all on function private.professionalism_facts(uuid) from public, anon, authenticated;

create function public.professionalism_record(p_member uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  is_consultant boolean;
  rec jsonb;
begin
  if me is null then
    raise exception 'Sign in to see records.' using errcode = '42501';
  end if;
  select p.is_consultant into is_consultant from public.profiles p where p.id = p_member;
  if is_consultant is null then
    raise exception 'No such member.' using errcode = 'P0002';
  end if;
  if p_member <> me and not is_consultant and not exists (
       select 1 from public.engagements e where e.seeker_id = p_member and e.consultant_id = me) then
    raise exception 'This record is visible only to the member and the consultants they work with.'
      using errcode = '42501';
  end if;
  rec := private.professionalism_facts(p_member);
  return rec || jsonb_build_object(
    'shown', p_member = me or (rec ->> 'enough_events')::boolean or not is_consultant);
end;
$$;
revoke all on function public.professionalism_record(uuid) from public, anon;
grant execute on function public.professionalism_record(uuid) to authenticated;

-- Public records of several consultants at once (search results): only those resting on 5+ events.
create function public.consultant_records(p_consultants uuid[])
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(p.id, f.facts), '{}')
  from public.profiles p
  cross join lateral (select private.professionalism_facts(p.id) as facts) f
  where p.id = any (p_consultants[1:50]) and p.is_consultant and (f.facts ->> 'enough_events')::boolean
$$;
revoke all on function public.consultant_records(uuid[]) from public, anon;
grant execute on function public.consultant_records(uuid[]) to authenticated;
