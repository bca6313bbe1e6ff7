-- No door ends, hides or strands care silently (issue 22, item 4).
--
-- A consultant with two active clients saved My profile with "I offer consultation to colleagues" off:
-- accepted, and both clients' engagements and sessions vanished from their lists (a client reads a
-- profile only while it is a consultant's), their bookings failed with "That time was just taken"
-- (open_slots offers only a consultant's times), and nobody was told. The rule now lives on the
-- states themselves, so every door that reaches them holds it. The doors, each tested from both
-- parties' side through the RPC API on both databases (tests/test_care_doors.py):
--
--   state                                   doors                                      what happens
--   profiles.is_consultant true -> false    save_my_profile; a member's UPDATE of      refused while they have active clients or
--                                           profiles (column grant)                    requests awaiting an answer; the sentence
--                                                                                      names each (active_clients_sentence)
--   profiles.deleted_at set, profile row    delete_my_account, admin_close_account     both go through private.close_account,
--   deleted                                 (via private.close_account); the service   which ends and tells first; any other
--                                           role's table writes                        write is refused while care is open,
--                                                                                      naming the other parties
--   availability_settings.capacity          save_my_practice; a member's UPDATE of     refused below the active clients (the
--                                           availability_settings (column grant)       sentence save_my_practice gave)
--   availability_settings.accepting_...     save_my_practice; direct UPDATE            ends nothing: engagements, sessions and
--                                                                                      the answer to a pending request go on
--   engagements.status active -> ended      complete_termination_plan,                 refused while a session of that engagement
--                                           private.close_account                      is still ahead (named with its time);
--                                                                                      close_account cancels them first, telling both
--   an active engagement or a session       the service role's DELETE of it, or of     refused, naming both parties (nothing
--   ahead deleted                           the request or profile it cascades from    deletes them; they end or are cancelled)
--   licences removed, edited, expired;      save_my_profile; a member's UPDATE or      care continues (see below); when a change
--   profiles.home_jurisdiction changed      DELETE of licenses; set_my_home_           leaves an active client without a current
--                                           jurisdiction; a member's UPDATE of         licence where they live, both are told
--                                           profiles; time passing (expiry)            (an expiry by the sender's sweep,
--                                                                                      write_due_reminders), once per gap
--   a client's view of their consultant     profiles' RLS                              a client reads the profile of a consultant
--                                                                                      they asked, whatever its switch says
--
-- Care continues. The licence rule guards new work: a request, its acceptance, and a first session
-- proposed with a pending request. Sessions within an active engagement are booked and moved even
-- when the consultant's licence where the client lives has lapsed, was removed, or the client moved:
-- cutting a client off mid-treatment is the abandonment the ethics codes forbid; the consultant is
-- told to renew or add the licence, or to agree an ending with a referral, and the client is told
-- their sessions continue.
--
-- Rows the owner writes directly (migrations, the demo world, test set-up) are not a door any member
-- or API caller has: these rules apply whenever a request's role is set (auth.role()), as the licence
-- rule's triggers do.

-- The requests still waiting for a consultant's answer, as a sentence ("Ana Diaz (sent 3 Dec 2026), ...").
create function private.waiting_requests_sentence(p_consultant uuid)
returns text
language sql
stable
set search_path = ''
as $$
  select string_agg(p.display_name || ' (sent ' || to_char(r.created_at, 'FMDD Mon YYYY') || ')', ', '
                    order by r.created_at, p.display_name)
  from public.consultation_requests r join public.profiles p on p.id = r.seeker_id
  where r.consultant_id = p_consultant and r.status = 'pending'
$$;
revoke all on function private.waiting_requests_sentence(uuid) from public, anon, authenticated, service_role;

-- Everyone p_member still has open care with, in either role: an active engagement, a pending request,
-- a session ahead. Null when there is nobody.
create function private.open_care_names(p_member uuid)
returns text
language sql
stable
set search_path = ''
as $$
  select string_agg(distinct p.display_name, ', ')
  from public.profiles p
  where p.id in (
    select case when e.seeker_id = p_member then e.consultant_id else e.seeker_id end
    from public.engagements e where p_member in (e.seeker_id, e.consultant_id) and e.status = 'active'
    union
    select case when r.seeker_id = p_member then r.consultant_id else r.seeker_id end
    from public.consultation_requests r where p_member in (r.seeker_id, r.consultant_id) and r.status = 'pending'
    union
    select case when a.client_id = p_member then a.consultant_id else a.client_id end
    from public.appointments a
    where p_member in (a.consultant_id, a.client_id) and a.status in ('requested', 'confirmed') and a.starts_at > now())
$$;
revoke all on function private.open_care_names(uuid) from public, anon, authenticated, service_role;

-- profiles: the consultant switch, closure and deletion.
create function private.care_outlives_profile_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  clients text;
  waiting text;
  others text;
begin
  if auth.role() is null then
    return coalesce(new, old);
  end if;
  if tg_op = 'UPDATE' and old.is_consultant and not new.is_consultant and new.deleted_at is null then
    clients := private.active_clients_sentence(new.id);
    waiting := private.waiting_requests_sentence(new.id);
    if clients is not null or waiting is not null then
      raise exception '%', concat_ws(' ',
          'You still work with: ' || clients || '.',
          'Requests still wait for your answer from: ' || waiting || '.',
          'Turning off "I offer consultation to colleagues" now would hide that work from them and stop their '
          'bookings without telling them.')
        using detail = 'is_consultant',
              hint = 'Agree an ending with each client under Termination plans (where safety requires an immediate '
                     'ending, a plan with its written justification) and answer each request first; to take no '
                     'new clients meanwhile, turn off "Accepting new clients" on My practice.';
    end if;
  end if;
  if tg_op = 'DELETE' or (old.deleted_at is null and new.deleted_at is not null) then
    others := private.open_care_names(old.id);
    if others is not null then
      raise exception 'This account still has open requests, sessions or engagements with: %.', others
        using detail = 'account',
              hint = 'Close it with admin_close_account (or its owner with delete_my_account), which ends them '
                     'and tells everyone.';
    end if;
  end if;
  return coalesce(new, old);
end;
$$;
revoke all on function private.care_outlives_profile_changes() from public, anon, authenticated, service_role;
create trigger profiles_care_outlives_changes
  before update of is_consultant, deleted_at or delete on public.profiles
  for each row execute function private.care_outlives_profile_changes();

-- availability_settings: capacity never below the active clients, whichever door writes it (a capacity
-- left as it was is not re-checked). Invoker, reading only the caller's own engagements.
create function private.capacity_holds_the_active_clients()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  held integer;
begin
  if auth.role() is null or new.capacity is not distinct from old.capacity then
    return new;
  end if;
  held := (select count(*) from public.engagements e where e.consultant_id = new.consultant_id and e.status = 'active');
  if new.capacity < held then
    raise exception 'You have % active %; capacity can''t be lower.', held,
                    case when held = 1 then 'client' else 'clients' end
      using detail = 'capacity', hint = 'To stop taking new clients, turn off ''Accepting new clients''.';
  end if;
  return new;
end;
$$;
revoke all on function private.capacity_holds_the_active_clients() from public, anon, authenticated, service_role;
create trigger availability_capacity_holds_the_active_clients
  before update of capacity on public.availability_settings
  for each row execute function private.capacity_holds_the_active_clients();

-- engagements: an engagement ends with no session of it still ahead (close_account cancels them first,
-- telling both; a plan is completed after its sessions, or they are cancelled, telling the other party), and an
-- active one is never deleted (a request or profile deleted by the service role would cascade to it).
create function private.an_engagement_ends_with_no_session_ahead()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  ahead text;
begin
  if auth.role() is null then
    return coalesce(new, old);
  end if;
  if tg_op = 'DELETE' then
    if old.status = 'active' then
      raise exception 'This engagement between % and % is active: deleting it would end it without telling them.',
        (select display_name from public.profiles where id = old.consultant_id),
        (select display_name from public.profiles where id = old.seeker_id)
        using detail = 'engagement',
              hint = 'End it with a termination plan, or close an account with admin_close_account.';
    end if;
    return old;
  end if;
  if old.status <> 'active' or new.status = 'active' then
    return new;
  end if;
  select string_agg(private.local_time_text(a.starts_at, coalesce(auth.uid(), new.seeker_id)), ', '
                    order by a.starts_at)
  into ahead
  from public.appointments a
  where a.engagement_id = new.id and a.status in ('requested', 'confirmed') and a.starts_at > now();
  if ahead is not null then
    raise exception 'Sessions of this engagement are still booked: %. Ending it now would strand them.', ahead
      using detail = 'sessions',
            hint = 'Cancel them on Appointments (both of you are told), or complete the plan after them.';
  end if;
  return new;
end;
$$;
revoke all on function private.an_engagement_ends_with_no_session_ahead() from public, anon, authenticated, service_role;
create trigger engagements_end_with_no_session_ahead
  before update of status or delete on public.engagements
  for each row execute function private.an_engagement_ends_with_no_session_ahead();

-- appointments: a session ahead is cancelled (which tells both), never deleted.
create function private.a_session_ahead_is_never_deleted()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if auth.role() is not null and old.status in ('requested', 'confirmed') and old.starts_at > now() then
    raise exception 'The session between % and % on % is still booked: deleting it would cancel it without '
                    'telling them.',
      (select display_name from public.profiles where id = old.consultant_id),
      (select display_name from public.profiles where id = old.client_id),
      to_char(old.starts_at at time zone 'UTC', 'FMDD Mon YYYY HH24:MI "UTC"')
      using detail = 'appointment', hint = 'Cancel it instead: both parties are told.';
  end if;
  return old;
end;
$$;
revoke all on function private.a_session_ahead_is_never_deleted() from public, anon, authenticated, service_role;
create trigger appointments_ahead_are_never_deleted
  before delete on public.appointments
  for each row execute function private.a_session_ahead_is_never_deleted();

-- Bookings: the licence rule guards new work (a first session proposed with a pending request); within
-- an active engagement care continues. The body is 20261129000400's with that condition added.
create or replace function private.bookings_need_a_licence_where_the_client_lives()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if auth.uid() is not null and new.status = 'requested'
     and not exists (select 1 from public.engagements e where e.id = new.engagement_id and e.status = 'active') then
    perform private.require_licence_where_client_lives(new.consultant_id, new.client_id, 'book');
  end if;
  return new;
end;
$$;
revoke all on function private.bookings_need_a_licence_where_the_client_lives()
  from public, anon, authenticated, service_role;

-- Whether p_consultant holds a current licence in p_jurisdiction (the rule's own test).
create function private.licensed_in(p_consultant uuid, p_jurisdiction text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (select 1 from public.licenses l
                 where l.profile_id = p_consultant and l.jurisdiction = p_jurisdiction
                   and l.expires_on >= private.search_facts_today())
$$;
revoke all on function private.licensed_in(uuid, text) from public, anon, authenticated, service_role;

-- Tell both parties of an active engagement that the consultant's licence no longer covers where the
-- client lives (p_code), and that care continues. Once per gap: the key names the engagement, the place and
-- the licence that lapsed there (its expiry, or none), so the door that made the gap and the sender's sweep
-- that finds it (an expiry no door wrote) tell it once. Returns the notices written.
create function private.tell_care_continues_beyond_the_licence(p_engagement public.engagements, p_code text)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  client text := (select display_name from public.profiles where id = p_engagement.seeker_id);
  consultant text := (select display_name from public.profiles where id = p_engagement.consultant_id);
  place text := (select j.name from public.jurisdictions j where j.code = p_code);
  gap text := 'licence_gap:' || p_engagement.id || ':' || p_code || ':'
              || coalesce((select max(l.expires_on)::text from public.licenses l
                           where l.profile_id = p_engagement.consultant_id and l.jurisdiction = p_code), 'none');
  written integer;
begin
  insert into public.notifications (user_id, kind, message, page, dedup_key)
  values (p_engagement.consultant_id, 'licence_gap', format(
            'You hold no current licence in %s, where %s lives. Your sessions with them continue; renew or add the '
            'licence on My profile, or agree an ending with a referral under Termination plans.', place, client),
          'requests', gap),
         (p_engagement.seeker_id, 'licence_gap', format(
            '%s holds no current licence in %s, where you live. Your sessions with them continue; talk with them '
            'about how to go on (a licence there, or an ending with a referral).', consultant, place),
          'requests', gap)
  on conflict do nothing;
  get diagnostics written = row_count;
  return written;
end;
$$;
revoke all on function private.tell_care_continues_beyond_the_licence(public.engagements, text)
  from public, anon, authenticated, service_role;

-- The sender's sweep: gaps no door wrote (a licence that expired with time), told once each.
create function private.remind_licence_gaps()
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  added integer := 0;
  gap record;
begin
  for gap in
    select e as engagement, c.home_jurisdiction as code
    from public.engagements e join public.profiles c on c.id = e.seeker_id
    where e.status = 'active' and c.home_jurisdiction is not null
      and not private.licensed_in(e.consultant_id, c.home_jurisdiction)
    order by e.id  -- one order for every writer
  loop
    added := added + private.tell_care_continues_beyond_the_licence(gap.engagement, gap.code);
  end loop;
  return added;
end;
$$;
revoke all on function private.remind_licence_gaps() from public, anon, authenticated, service_role;

-- The body is 20261129002400's with the licence gaps added to the sweep.
create or replace function public.write_due_reminders()
returns integer
language plpgsql
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
       + private.remind_plans_awaiting_signature(null)
       + private.remind_licence_gaps();
end;
$$;

-- licenses: a removal, an edit (expiry, jurisdiction) that leaves an active client uncovered is told.
create function private.tell_when_a_licence_stops_covering_a_client()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  eng public.engagements;
begin
  if auth.role() is null or old.expires_on < private.search_facts_today() then
    return null;  -- the owner's writes, or a licence that covered nobody already
  end if;
  for eng in
    select e.* from public.engagements e join public.profiles c on c.id = e.seeker_id
    where e.consultant_id = old.profile_id and e.status = 'active' and c.home_jurisdiction = old.jurisdiction
      and not private.licensed_in(old.profile_id, old.jurisdiction)
  loop
    perform private.tell_care_continues_beyond_the_licence(eng, old.jurisdiction);
  end loop;
  return null;
end;
$$;
revoke all on function private.tell_when_a_licence_stops_covering_a_client()
  from public, anon, authenticated, service_role;
create trigger licenses_tell_when_a_client_is_no_longer_covered
  after update or delete on public.licenses
  for each row execute function private.tell_when_a_licence_stops_covering_a_client();

-- profiles: a client who moves where their consultant holds no current licence; their sessions continue,
-- both are told; a request still waiting for an answer cannot be accepted there, and the client is told so.
create function private.tell_when_a_client_moves_beyond_the_licence()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  eng public.engagements;
  place text := (select j.name from public.jurisdictions j where j.code = new.home_jurisdiction);
  waiting text;
begin
  if auth.role() is null or new.home_jurisdiction is not distinct from old.home_jurisdiction
     or new.home_jurisdiction is null or new.deleted_at is not null then
    return null;
  end if;
  for eng in
    select e.* from public.engagements e
    where e.seeker_id = new.id and e.status = 'active' and not private.licensed_in(e.consultant_id, new.home_jurisdiction)
  loop
    perform private.tell_care_continues_beyond_the_licence(eng, new.home_jurisdiction);
  end loop;
  select string_agg(p.display_name, ', ' order by p.display_name) into waiting
  from public.consultation_requests r join public.profiles p on p.id = r.consultant_id
  where r.seeker_id = new.id and r.status = 'pending' and not private.licensed_in(r.consultant_id, new.home_jurisdiction);
  if waiting is not null then
    perform private.notify(new.id, 'licence_gap', format(
      'Your request to %s waits for an answer, but they hold no current licence in %s, where you now live, so it '
      'cannot be accepted there. Withdraw it and search for consultants licensed in %s, or ask them.',
      waiting, place, place), 'requests');
  end if;
  return null;
end;
$$;
revoke all on function private.tell_when_a_client_moves_beyond_the_licence()
  from public, anon, authenticated, service_role;
create trigger profiles_tell_when_a_client_moves_beyond_the_licence
  after update of home_jurisdiction on public.profiles
  for each row execute function private.tell_when_a_client_moves_beyond_the_licence();

-- A client reads the profile of every consultant they asked (their engagements, sessions and plans name
-- them), whatever the consultant's switch now says; a consultant already reads those who asked them.
create policy "members read profiles of consultants they asked" on public.profiles for select to portal_member
  using (exists (select 1 from public.consultation_requests r
                 where r.consultant_id = profiles.id and r.seeker_id = (select auth.uid())));
