-- Account emails are counted by kind, and registrations by client too (issue 23, item 5).
--
-- Every account email to an address shared one counter (3 an hour): three registrations typed with a
-- member's address used it up, and the member's password reset then sent nothing. Now each kind is
-- counted on its own, per address an hour: registration answers (the link, or "someone tried to register
-- with your email"), reset links (also per typed name, as before) and a member's own verification links.
-- A stranger's registrations no longer touch the reset's counter. Registrations are also counted per
-- client (the address the app's server saw, or the gateway's X-Forwarded-For: portal.account_links), at
-- most 5 an hour; only a digest of the client's address is kept, and only as long as the request (7 days).
-- Over any limit nothing is queued and the answer is the same, as before.
--
-- Registration also asks the name rule (public.display_name_problem, migration 20261206400200) before it
-- queues anything, so a refused name is refused at once rather than when the link is opened.

alter table private.account_links add column client_digest text check (client_digest ~ '^[0-9a-f]{64}$');
create index account_links_client_idx on private.account_links (client_digest, created_at desc)
  where client_digest is not null;

-- The kinds counted together: a registration's two possible answers are one kind of request.
create function private.account_link_counted_kind(p_kind text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when p_kind in ('registration', 'already_registered') then 'registration' else p_kind end
$$;
revoke all on function private.account_link_counted_kind(text) from public, anon, authenticated;

-- At most 3 messages of one kind per address (and, for a reset, per typed name) an hour.
create function private.account_links_over_limit(p_email text, p_kind text, p_asked_as text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select (select count(*) from private.account_links l
          where lower(l.email) = lower(btrim(p_email)) and l.created_at > now() - interval '1 hour'
            and private.account_link_counted_kind(l.kind) = private.account_link_counted_kind(p_kind)) >= 3
      or (p_asked_as is not null
          and (select count(*) from private.account_links l
               where l.asked_as = p_asked_as and l.kind = p_kind
                 and l.created_at > now() - interval '1 hour') >= 3)
$$;
revoke all on function private.account_links_over_limit(text, text, text) from public, anon, authenticated;

-- At most 5 registrations per client an hour.
create function private.account_links_client_over_limit(p_client_digest text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select p_client_digest is not null
     and (select count(*) from private.account_links l
          where l.client_digest = p_client_digest and l.created_at > now() - interval '1 hour'
            and l.kind in ('registration', 'already_registered')) >= 5
$$;
revoke all on function private.account_links_client_over_limit(text) from public, anon, authenticated;

-- Registration: 'username_taken', or 'requested' whatever became of the address. p_client: the client's
-- address as the server saw it (null when unknown); only its sha256 is kept.
drop function public.auth_request_registration(text, text, text, text);
create function public.auth_request_registration(p_username text, p_email text, p_display_name text,
                                                 p_password_hash text, p_client text default null)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  key text := lower(btrim(p_username));
  address text := btrim(p_email);
  client text := case when nullif(btrim(p_client), '') is not null
                      then encode(pg_catalog.sha256(convert_to(left(btrim(p_client), 200), 'UTF8')), 'hex') end;
  name_problem text := public.display_name_problem(p_display_name);
  holder private.credentials;
begin
  if key !~ '^[a-z0-9_.-]{3,30}$' then
    raise exception 'new row violates check constraint "credentials_username_format"' using errcode = '23514';
  end if;
  if address !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(address) > 320 then
    raise exception 'new row violates check constraint "credentials_email_format"' using errcode = '23514';
  end if;
  if length(btrim(p_display_name)) not between 2 and 80 then
    raise exception 'new row violates check constraint "profiles_display_name_length"' using errcode = '23514';
  end if;
  if name_problem is not null then
    raise exception '%', name_problem using errcode = 'P0001', detail = 'display_name';
  end if;
  if exists (select 1 from private.credentials c where c.username = key)
     or exists (select 1 from private.retired_usernames r where r.username = key) then
    return 'username_taken';
  end if;
  perform private.account_links_forget_old();
  if private.account_links_over_limit(address, 'registration', null)
     or private.account_links_client_over_limit(client) then
    return 'requested';
  end if;
  select * into holder from private.credentials c where lower(c.email) = lower(address);
  if holder.user_id is not null then
    insert into private.account_links (kind, email, user_id, client_digest)
    values ('already_registered', holder.email, holder.user_id, client);
  else
    insert into private.account_links (kind, email, username, display_name, password_hash, client_digest)
    values ('registration', address, key, btrim(p_display_name), p_password_hash, client);
  end if;
  return 'requested';
end;
$$;
revoke all on function public.auth_request_registration(text, text, text, text, text)
  from public, anon, authenticated, portal_member;
grant execute on function public.auth_request_registration(text, text, text, text, text) to service_role;

-- Forgotten password, by username or address: nothing is returned, whoever asks. Counted as resets only.
create or replace function public.auth_request_password_reset(p_identifier text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  typed text := left(lower(btrim(coalesce(p_identifier, ''))), 320);
  holder private.credentials;
begin
  select * into holder from private.credentials c
  where case when position('@' in typed) > 0 then lower(c.email) = typed else c.username = typed end;
  perform private.account_links_forget_old();
  if holder.user_id is null or holder.email_verified_at is null
     or private.account_links_over_limit(holder.email, 'reset', typed) then
    return;
  end if;
  insert into private.account_links (kind, email, user_id, asked_as) values ('reset', holder.email, holder.user_id, typed);
end;
$$;

-- A member's own verification link: counted as verification links only.
create or replace function public.request_my_email_verification()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  mine private.credentials;
begin
  select * into mine from private.credentials c where c.user_id = auth.uid();
  if mine.user_id is null then
    raise exception 'Sign in to verify your email.' using errcode = '42501';
  end if;
  if mine.email_verified_at is not null then
    return public.my_email_verification() || jsonb_build_object('queued', false);
  end if;
  if private.account_links_over_limit(mine.email, 'verify_email', null) then
    raise exception 'Three messages went to this address within the hour. Try again later.'
      using errcode = 'P0001', detail = 'rate_limited';
  end if;
  insert into private.account_links (kind, email, user_id) values ('verify_email', mine.email, mine.user_id);
  return public.my_email_verification() || jsonb_build_object('queued', true);
end;
$$;

drop function private.account_links_over_limit(text, text);
