-- Licensure at every door: the consultant must hold a current licence where the client lives.
--
-- Only the search checked it: a seeker in Quebec could open a Texas-only consultant's profile by
-- link, request, and be accepted. Where a member lives (a state or province) is now part of their
-- profile; the database checks the consultant's licence there when a request is sent, when it is
-- accepted (a licence can expire in between) and whenever a session is booked or moved.
--
-- The checks are triggers on the rows those doors write, so every function that writes them now
-- or later is held to the rule. They apply to members' requests (auth.uid() set); rows the
-- owner writes directly (the demo world, history) are not requests by anyone.
--
-- Existing profiles: where a member holds licences in exactly one jurisdiction, that is taken as
-- where they live (they can change it on My profile); everyone else chooses before their next
-- request or booking, and is told so.

alter table public.profiles add column home_jurisdiction text references public.jurisdictions (code);
grant update (home_jurisdiction) on public.profiles to portal_member;

update public.profiles p
set home_jurisdiction = one.jurisdiction
from (select l.profile_id, min(l.jurisdiction) as jurisdiction from public.licenses l
      group by l.profile_id having count(distinct l.jurisdiction) = 1) one
where one.profile_id = p.id and p.home_jurisdiction is null;

-- Raises, in the words of the member making the call, unless p_consultant holds a current licence
-- where p_client lives. `p_door` is 'request', 'accept' or 'book'.
create function private.require_licence_where_client_lives(p_consultant uuid, p_client uuid, p_door text)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  home text;
  place text;
  asking_is_client boolean := auth.uid() = p_client;
begin
  select p.home_jurisdiction, j.name into home, place
  from public.profiles p left join public.jurisdictions j on j.code = p.home_jurisdiction
  where p.id = p_client;
  if home is null then
    if asking_is_client then
      raise exception 'Say where you live (state or province) on My profile first: a consultant must be licensed there.'
        using detail = 'home_jurisdiction', hint = 'My profile → Where you live.';
    end if;
    raise exception 'This client has not said where they live yet, so your licence there cannot be checked.'
      using detail = 'home_jurisdiction',
            hint = 'Ask them to choose it on My profile, then try again.';
  end if;
  if exists (select 1 from public.licenses l
             where l.profile_id = p_consultant and l.jurisdiction = home
               and l.expires_on >= private.search_facts_today()) then
    return;
  end if;
  if p_door = 'request' then
    raise exception 'This consultant holds no current licence in %, where you live.', place
      using detail = 'jurisdiction', hint = format('Search for consultants licensed in %s.', place);
  elsif p_door = 'accept' then
    raise exception 'You hold no current licence in %, where this client lives.', place
      using detail = 'jurisdiction',
            hint = 'Renew or add the licence on My profile, or decline with a reason so they can look elsewhere.';
  end if;
  raise exception 'Sessions cannot be booked: %.',
    case when asking_is_client then format('your consultant holds no current licence in %s, where you live', place)
         else format('you hold no current licence in %s, where your client lives', place) end
    using detail = 'jurisdiction',
          hint = case when asking_is_client then 'Ask your consultant about their licence, or agree an ending.'
                      else 'Renew the licence on My profile; until then no session can be booked.' end;
end;
$$;
revoke all on function private.require_licence_where_client_lives(uuid, uuid, text)
  from public, anon, authenticated, service_role;

create function private.requests_need_a_licence_where_the_client_lives()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if auth.uid() is null then
    return new;
  end if;
  if tg_op = 'INSERT' and new.status = 'pending' then
    perform private.require_licence_where_client_lives(new.consultant_id, new.seeker_id, 'request');
  elsif tg_op = 'UPDATE' and new.status = 'accepted' and old.status is distinct from 'accepted' then
    perform private.require_licence_where_client_lives(new.consultant_id, new.seeker_id, 'accept');
  end if;
  return new;
end;
$$;
revoke all on function private.requests_need_a_licence_where_the_client_lives()
  from public, anon, authenticated, service_role;
create trigger requests_need_a_licence_where_the_client_lives
  before insert or update of status on public.consultation_requests
  for each row execute function private.requests_need_a_licence_where_the_client_lives();

create function private.bookings_need_a_licence_where_the_client_lives()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if auth.uid() is not null and new.status = 'requested' then
    perform private.require_licence_where_client_lives(new.consultant_id, new.client_id, 'book');
  end if;
  return new;
end;
$$;
revoke all on function private.bookings_need_a_licence_where_the_client_lives()
  from public, anon, authenticated, service_role;
create trigger bookings_need_a_licence_where_the_client_lives
  before insert on public.appointments
  for each row execute function private.bookings_need_a_licence_where_the_client_lives();

-- My profile keeps where the member lives; a key left out keeps what was there.
create or replace function public.set_my_home_jurisdiction(p_jurisdiction text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'Sign in to change your profile.' using errcode = '42501';
  end if;
  if not exists (select 1 from public.jurisdictions j where j.code = p_jurisdiction) then
    raise exception 'Choose the state or province where you live.' using detail = 'home_jurisdiction';
  end if;
  update public.profiles set home_jurisdiction = p_jurisdiction, updated_at = now() where id = auth.uid();
  return public.profile_document(auth.uid());
end;
$$;
revoke all on function public.set_my_home_jurisdiction(text) from public, anon, authenticated;
grant execute on function public.set_my_home_jurisdiction(text) to portal_member;

-- The requests inbox says where each client lives (the consultant's licence is checked there).
drop function public.my_requests();
create function public.my_requests()
returns table (id uuid, direction text, other_id uuid, other_name text, modalities text[], message text,
               status text, decline_reason text, created_at timestamptz, responded_at timestamptz,
               client_lives_in text)
language sql
stable
set search_path = ''
as $$
  select r.id,
         case when r.seeker_id = auth.uid() then 'sent' else 'received' end,
         case when r.seeker_id = auth.uid() then r.consultant_id else r.seeker_id end,
         p.display_name, r.modalities, r.message, r.status, r.decline_reason, r.created_at, r.responded_at,
         (select j.name from public.profiles s join public.jurisdictions j on j.code = s.home_jurisdiction
          where s.id = r.seeker_id)
  from public.consultation_requests r
  join public.profiles p on p.id = case when r.seeker_id = auth.uid() then r.consultant_id else r.seeker_id end
  where auth.uid() in (r.seeker_id, r.consultant_id)
  order by (r.status = 'pending') desc, r.created_at desc, r.id
$$;
revoke all on function public.my_requests() from public, anon, authenticated;
grant execute on function public.my_requests() to portal_member;
