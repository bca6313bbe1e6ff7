-- A waitlist for consultants who are full (issue 26, item 13).
--
-- A seeker who finds a consultant full (capacity reached) or not taking new clients asks to be told when there is
-- room. Who may wait is who may ask: the request's own eligibility is now stated once (private.request_refusal) and
-- used by request_consultation, join_waitlist and the telling, with the licence rule the request's trigger applies
-- (private.require_licence_where_client_lives) and the pending request a request would collide with.
-- The telling is a rule on the state: a trigger on availability_settings (capacity raised, intake reopened, an
-- engagement ended whichever way: the active-client counter falls) and on profiles ("I offer consultation" turned
-- back on), so every door that frees room tells those waiting, the member's own table writes included.
-- Who waits is the seeker's alone: the consultant reads a count (my_waitlist_count), never who.

-- ---------------------------------------------------------------------------
-- One wait per seeker and consultant. A wait is current while it is not told and not expired; it expires 60 days
-- after it was asked or last renewed (expires_at, read against now(): no sweep is needed). Telling ends it, so a
-- seeker is told once per wait; asking again after being told (or after expiry) starts a new wait at the back.
-- ---------------------------------------------------------------------------
create table public.waitlist (
  id            uuid primary key default gen_random_uuid(),
  seeker_id     uuid not null references public.profiles (id) on delete cascade,
  consultant_id uuid not null references public.profiles (id) on delete cascade,
  asked_at      timestamptz not null default now(),
  expires_at    timestamptz not null default now() + interval '60 days',
  told_at       timestamptz,
  constraint waitlist_one_per_pair unique (seeker_id, consultant_id),
  constraint waitlist_not_self check (seeker_id <> consultant_id)
);
create index waitlist_waiting_idx on public.waitlist (consultant_id, asked_at, id) where told_at is null;
alter table public.waitlist enable row level security;
revoke all on public.waitlist from public, anon, authenticated;
grant select on public.waitlist to portal_member;
grant all on public.waitlist to service_role;
-- The seeker reads their own waits; nobody else reads any (the consultant's count comes from a function).
create policy "a seeker reads their own waits" on public.waitlist
  for select to portal_member using (seeker_id = (select auth.uid()));

-- Who may ask whom, room aside: null when p_seeker may send p_consultant a request, else the refusal as
-- {message, detail} or {message, errcode 'PT404'} (a consultant one may not see reads as missing). The checks and
-- sentences request_consultation made inline, in the same order.
create function private.request_refusal(p_seeker uuid, p_consultant uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select case
    when p_seeker = p_consultant then
      jsonb_build_object('message', 'You cannot request a consultation with yourself.', 'detail', 'consultant')
    -- Refused only for what search and the profile already show (the kept level: live, and what a request witnessed).
    when not exists (select 1 from public.profiles p where p.id = p_consultant and p.is_consultant)
         or (select l.level from private.conflict_levels(p_seeker, array[p_consultant]) l) = 'blocking' then
      jsonb_build_object('message', 'This consultant is not available to you.', 'errcode', 'PT404')
    when exists (select 1 from public.engagements e
                 where e.seeker_id = p_seeker and e.consultant_id = p_consultant and e.status = 'active') then
      jsonb_build_object('message', 'You already work with this consultant.', 'detail', 'consultant')
  end
$$;
revoke all on function private.request_refusal(uuid, uuid) from public, anon, authenticated;

-- A refusal from private.request_refusal, raised as the request raised it.
create function private.raise_request_refusal(p_refusal jsonb)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_refusal ->> 'errcode' = 'PT404' then
    raise exception using message = p_refusal ->> 'message', errcode = 'PT404';
  elsif p_refusal is not null then
    raise exception using message = p_refusal ->> 'message', detail = p_refusal ->> 'detail';
  end if;
end;
$$;
revoke all on function private.raise_request_refusal(jsonb) from public, anon, authenticated;

-- Requests: its latest definition (…000800, as …1900 left it: PT404), the eligibility read from
-- private.request_refusal, and a wait for this consultant ended by the request (asking supersedes waiting).
create or replace function public.request_consultation(p_consultant uuid, p_modalities text[], p_message text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  conflict text;
  new_request public.consultation_requests;
begin
  if me is null then
    raise exception 'Sign in to request a consultation.' using errcode = '42501';
  end if;
  if p_consultant = me then
    raise exception 'You cannot request a consultation with yourself.' using detail = 'consultant';
  end if;
  if char_length(btrim(coalesce(p_message, ''))) = 0 then
    raise exception 'Write a short message to the consultant.' using detail = 'message';
  end if;
  if exists (select 1 from unnest(coalesce(p_modalities, '{}')) w
             where not exists (select 1 from public.modalities m where m.code = w)) then
    raise exception 'Unknown modality.' using detail = 'modalities', hint = 'Pick modalities from the list.';
  end if;
  perform private.raise_request_refusal(private.request_refusal(me, p_consultant));
  -- Each request runs the matched screening once; a cap keeps it from being used as a probe.
  if (select count(*) from public.consultation_requests r
      where r.seeker_id = me and r.created_at > now() - interval '1 day') >= 20 then
    raise exception 'You have sent 20 requests in the last day; you can send more tomorrow.'
      using detail = 'consultant', hint = 'Requests already sent are under Requests.';
  end if;
  -- Lock the consultant's intake row so capacity is read consistently with acceptances.
  perform 1 from public.availability_settings s where s.consultant_id = p_consultant for update;
  if not public.consultant_can_take_requests(p_consultant) then
    raise exception 'This consultant is not taking new clients right now.'
      using detail = 'capacity', hint = 'Search again for consultants with room.';
  end if;
  insert into public.consultation_requests (seeker_id, consultant_id, modalities, message)
  values (me, p_consultant, coalesce(p_modalities, '{}'), btrim(p_message))
  returning * into new_request;
  delete from public.waitlist w where w.seeker_id = me and w.consultant_id = p_consultant;
  -- Witnessed: the consultant sees the request, and both see this screening in their log.
  perform private.take_request_screening(new_request.id);
  select l.level into conflict from private.pair_level(me, p_consultant) l;
  perform private.log_screening(me, p_consultant, 'request', conflict);
  return to_jsonb(new_request) || jsonb_build_object('conflict', conflict);
exception when unique_violation then
  raise exception 'You already have a pending request with this consultant.'
    using detail = 'consultant', hint = 'Wait for their answer, or see it under Requests.';
end;
$$;

-- A wait as its seeker reads it: the consultant, when asked, until when, whether told, and its state.
create function private.wait_document(p_wait public.waitlist)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'consultant_id', p_wait.consultant_id,
    'consultant_name', (select p.display_name from public.profiles p where p.id = p_wait.consultant_id),
    'asked_at', p_wait.asked_at,
    'expires_at', p_wait.expires_at,
    'told_at', p_wait.told_at,
    'state', case when p_wait.told_at is not null then 'told'
                  when p_wait.expires_at <= now() then 'expired'
                  else 'waiting' end,
    'has_room', public.consultant_can_take_requests(p_wait.consultant_id))
$$;
revoke all on function private.wait_document(public.waitlist) from public, anon, authenticated;

-- Ask to be told when p_consultant has room. Refused, with the request's sentences, for anyone who could not send
-- them a request (themselves, a consultant they may not see, their own consultant, a pending request, no licence
-- where they live); refused while there is room (a request is the way then). Asking twice changes nothing. A seeker
-- waits for at most 20 consultants at once (members keep a few entries, not thousands).
create function public.join_waitlist(p_consultant uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  wait public.waitlist;
begin
  if me is null then
    raise exception 'Sign in to be told when a consultant has room.' using errcode = '42501';
  end if;
  perform private.raise_request_refusal(private.request_refusal(me, p_consultant));
  if exists (select 1 from public.consultation_requests r
             where r.seeker_id = me and r.consultant_id = p_consultant and r.status = 'pending') then
    raise exception 'You have asked this consultant already; your request waits for their answer.'
      using detail = 'consultant', hint = 'See it under Requests.';
  end if;
  perform private.require_licence_where_client_lives(p_consultant, me, 'request');
  -- The intake row locked, as a request locks it: a wait and an opening never cross unseen.
  perform 1 from public.availability_settings s where s.consultant_id = p_consultant for update;
  if public.consultant_can_take_requests(p_consultant) then
    raise exception 'This consultant has room now: send them a request instead of waiting.'
      using detail = 'capacity', hint = 'Ask for a consultation on their profile.';
  end if;
  select * into wait from public.waitlist w where w.seeker_id = me and w.consultant_id = p_consultant for update;
  if wait.id is not null and wait.told_at is null and wait.expires_at > now() then
    return private.wait_document(wait);
  end if;
  if (select count(*) from public.waitlist w
      where w.seeker_id = me and w.told_at is null and w.expires_at > now()) >= 20 then
    raise exception 'You are waiting for 20 consultants already, the most at once; leave one of those waitlists first.'
      using detail = 'waitlist', hint = 'Each consultant''s profile shows your wait and lets you leave it.';
  end if;
  insert into public.waitlist as w (seeker_id, consultant_id) values (me, p_consultant)
  on conflict (seeker_id, consultant_id) do update
    set asked_at = now(), expires_at = now() + interval '60 days', told_at = null
  returning * into wait;
  return private.wait_document(wait);
end;
$$;
revoke all on function public.join_waitlist(uuid) from public, anon, authenticated;
grant execute on function public.join_waitlist(uuid) to portal_member;

-- Renew a current wait: it then ends 60 days from now. An expired or told wait is over: ask again instead.
create function public.renew_my_wait(p_consultant uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  wait public.waitlist;
begin
  if me is null then
    raise exception 'Sign in to renew your wait.' using errcode = '42501';
  end if;
  select * into wait from public.waitlist w where w.seeker_id = me and w.consultant_id = p_consultant for update;
  if wait.id is null or wait.told_at is not null then
    raise exception 'You are not on this consultant''s waitlist.'
      using detail = 'waitlist', hint = 'Ask to be told when there is room.';
  end if;
  if wait.expires_at <= now() then
    raise exception 'Your wait ended on %; ask again to be told when there is room.',
      to_char(wait.expires_at at time zone coalesce((select p.timezone from public.profiles p where p.id = me), 'UTC'),
              'FMDD Mon YYYY')
      using detail = 'waitlist';
  end if;
  update public.waitlist w set expires_at = now() + interval '60 days' where w.id = wait.id returning * into wait;
  return private.wait_document(wait);
end;
$$;
revoke all on function public.renew_my_wait(uuid) from public, anon, authenticated;
grant execute on function public.renew_my_wait(uuid) to portal_member;

-- Leave a waitlist (whatever its state); true when there was a wait to leave.
create function public.leave_waitlist(p_consultant uuid)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'Sign in to leave a waitlist.' using errcode = '42501';
  end if;
  delete from public.waitlist w where w.seeker_id = auth.uid() and w.consultant_id = p_consultant;
  return found;
end;
$$;
revoke all on function public.leave_waitlist(uuid) from public, anon, authenticated;
grant execute on function public.leave_waitlist(uuid) to portal_member;

-- The caller's own waits, newest first (one per consultant, so never more than the consultants they waited for).
create function public.my_waits()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(private.wait_document(w) order by w.asked_at desc, w.id), '[]'::jsonb)
  from public.waitlist w
  join public.profiles c on c.id = w.consultant_id and c.deleted_at is null
  where w.seeker_id = auth.uid()
$$;
revoke all on function public.my_waits() from public, anon, authenticated;
grant execute on function public.my_waits() to portal_member;

-- How many wait for the caller (a consultant's My practice): current waits of members who still have an account.
-- A count only: who waits is the seeker's until they send a request.
create function public.my_waitlist_count()
returns integer
language sql
stable
security definer
set search_path = ''
as $$
  select count(*)::integer
  from public.waitlist w
  join public.profiles s on s.id = w.seeker_id and s.deleted_at is null
  where w.consultant_id = auth.uid() and w.told_at is null and w.expires_at > now()
$$;
revoke all on function public.my_waitlist_count() from public, anon, authenticated;
grant execute on function public.my_waitlist_count() to portal_member;

-- ---------------------------------------------------------------------------
-- Telling. When a place opens, every current wait is told, in the order asked (asked_at, then id: the notices and
-- the outbox rows are written in that order, so the first to ask is the first told), each once: telling ends the
-- wait. Not only as many as there are places: a request is not a booking (the consultant chooses among requests,
-- and the matched screening at a request may rule a pair out), so telling one per place would leave the place idle
-- whenever the first told does not ask or is not taken, and nothing would pass the turn on. Each wait is screened
-- as a request would be (private.request_refusal, a pending request, the licence where the seeker lives): someone
-- who could not ask is not told, and keeps waiting (a licence renewed later makes them eligible at the next opening).
-- The flood cap holds: a member whose change opened the room and who has already reached another member 20 times
-- today (private.pair_deliveries) does not tell them now; their wait stays for the next opening, and the change
-- itself is never refused for it.
-- ---------------------------------------------------------------------------
create function private.tell_the_waiting(p_consultant uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  actor uuid := auth.uid();
  capped boolean := auth.uid() is not null and not public.is_admin();
  name text := (select p.display_name from public.profiles p where p.id = p_consultant);
  wait record;
  told integer := 0;
begin
  if not public.consultant_can_take_requests(p_consultant) then
    return 0;
  end if;
  for wait in
    select w.id, w.seeker_id from public.waitlist w
    join public.profiles s on s.id = w.seeker_id and s.deleted_at is null
    where w.consultant_id = p_consultant and w.told_at is null and w.expires_at > now()
    order by w.asked_at, w.id
    for update of w
  loop
    continue when private.request_refusal(wait.seeker_id, p_consultant) is not null;
    continue when exists (select 1 from public.consultation_requests r
                          where r.seeker_id = wait.seeker_id and r.consultant_id = p_consultant
                            and r.status = 'pending');
    continue when capped and actor <> wait.seeker_id and exists (
      select 1 from private.pair_deliveries d
      where d.sender = actor and d.recipient = wait.seeker_id and d.what = 'notices'
        and d.on_day = (now() at time zone 'utc')::date and d.actions >= 20
        and d.last_xact is distinct from pg_catalog.pg_current_xact_id());
    begin
      perform private.require_licence_where_client_lives(p_consultant, wait.seeker_id, 'request');
    exception when raise_exception then
      continue;  -- no current licence where the seeker lives: a request would be refused
    end;
    update public.waitlist w set told_at = now() where w.id = wait.id;
    -- The page is the consultant's own address, so the notice's link and the email's open their profile.
    insert into public.notifications (user_id, kind, message, page)
    values (wait.seeker_id, 'room_opened',
            name || ' has room for a new client again, as you asked to be told. Send them a request from their '
            || 'profile while the place is open.',
            'consultant?id=' || p_consultant);
    told := told + 1;
  end loop;
  return told;
end;
$$;
revoke all on function private.tell_the_waiting(uuid) from public, anon, authenticated;

-- The trigger on the states that open room; its argument names the consultant's column. A definer: it reads every
-- seeker's wait and writes their notices, which no member may, whoever's change (or counter) opened the room.
create function private.room_opened_tells_the_waiting()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.tell_the_waiting((to_jsonb(new) ->> tg_argv[0])::uuid);
  return null;
end;
$$;
revoke all on function private.room_opened_tells_the_waiting() from public, anon, authenticated;

-- Room opens when a consultant with no free place gets one, or has more free places than before: capacity raised,
-- intake turned on, or the active-client counter falling (an engagement ended by either party, by its plan or by an
-- account's closure).
create trigger availability_settings_room_tells_the_waiting
  after update of capacity, accepting_new_clients, active_clients on public.availability_settings
  for each row
  when (new.accepting_new_clients and new.active_clients < new.capacity
        and (not old.accepting_new_clients or old.active_clients >= old.capacity
             or new.capacity - new.active_clients > old.capacity - old.active_clients))
  execute function private.room_opened_tells_the_waiting('consultant_id');

-- "I offer consultation" turned back on opens the room the settings already had.
create trigger profiles_offering_again_tells_the_waiting
  after update of is_consultant on public.profiles
  for each row
  when (new.is_consultant and not old.is_consultant)
  execute function private.room_opened_tells_the_waiting('id');

-- Which group a notice belongs to: as in …001400, with a room opened at a consultant one waits for among requests
-- (its page is the consultant's profile address, which names no group).
create or replace function private.email_group(p_kind text, p_page text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when p_kind like 'attendance\_%' then 'attendance'
              when p_kind = 'account_closed' then 'account'
              when p_kind = 'room_opened' then 'requests'
              when p_page = 'appointments' then 'sessions'
              when p_page = 'requests' then 'requests'
              when p_page = 'termination' then 'plans'
              else 'account' end
$$;
revoke all on function private.email_group(text, text) from public, anon, authenticated;
