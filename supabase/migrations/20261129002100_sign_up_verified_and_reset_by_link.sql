-- Sign-up that reveals nothing, verified addresses, and password reset by a link (#13).
--
-- Registration answered "An account with this email already exists": anyone could learn whether a
-- colleague has an account. Now a registration is only a request. Whatever the address, the portal
-- answers the same sentence and queues one message: to a new address a link that creates the
-- account when opened (so an account exists only once its address is proven); to an address an
-- account already has, "someone tried to register with your email", with the ways to sign in or
-- reset. A username may still be refused as taken: usernames are not the secret, emails are.
--
-- A forgotten password is a request too: the same answer for every name or address; a link goes
-- only to an account's verified address. Opening it lets the holder choose a new password once;
-- every session of the account ends.
--
-- Tokens: the sender (service_role, python -m portal.mailer) mints each link's token when it
-- sends the message, stores only its sha256 here (account_link_arm) and puts the token only in
-- the email: no plaintext token is ever in the database. A link expires (verification 24 hours,
-- reset 45 minutes) and works once. Requests are counted here per address and per typed name
-- (at most 3 an hour): over the limit nothing is queued and the answer is the same.
--
-- Accounts made before this migration keep signing in; their addresses stay unverified until the
-- member asks for a verification link on the Account page (request_my_email_verification), and
-- until then the sender sends them nothing but that link.

create table private.account_links (
  id               bigint generated always as identity primary key,
  kind             text not null
                   check (kind in ('registration', 'already_registered', 'reset', 'verify_email')),
  email            text not null check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and length(email) <= 320),
  user_id          uuid references public.profiles (id) on delete cascade,  -- the account, when one exists
  asked_as         text,  -- a reset request: the name or address typed (counted per typed name)
  -- A registration's details, kept until its link is opened (the account is made then).
  username         text,
  display_name     text,
  password_hash    text check (password_hash like '$2%'),
  token_hash       text unique check (token_hash ~ '^[0-9a-f]{64}$'),
  expires_at       timestamptz,
  used_at          timestamptz,
  status           text not null default 'queued'
                   check (status in ('queued', 'sending', 'sent', 'held', 'failed')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default now(),
  lease_until      timestamptz,
  last_error       text,
  created_at       timestamptz not null default now(),
  settled_at       timestamptz,
  check ((kind = 'registration') = (username is not null and display_name is not null and password_hash is not null)),
  check (kind = 'registration' or user_id is not null)
);
create index account_links_address_idx on private.account_links (lower(email), created_at desc);
create index account_links_asked_as_idx on private.account_links (asked_as, created_at desc);
create index account_links_due_idx on private.account_links (next_attempt_at) where status in ('queued', 'sending');
alter table private.account_links enable row level security;  -- no policy: only the functions below read it
revoke all on private.account_links from public, anon, authenticated, portal_member, service_role;

-- At most this many messages per address (and per typed name) an hour.
create function private.account_links_over_limit(p_email text, p_asked_as text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select (select count(*) from private.account_links l
          where lower(l.email) = lower(btrim(p_email)) and l.created_at > now() - interval '1 hour') >= 3
      or (p_asked_as is not null
          and (select count(*) from private.account_links l
               where l.asked_as = p_asked_as and l.created_at > now() - interval '1 hour') >= 3)
$$;
revoke all on function private.account_links_over_limit(text, text) from public, anon, authenticated;

-- Details and hashes of requests nobody finished do not linger.
create function private.account_links_forget_old()
returns void
language sql
volatile
set search_path = ''
as $$
  delete from private.account_links where created_at < now() - interval '7 days';
$$;
revoke all on function private.account_links_forget_old() from public, anon, authenticated;

-- Registration: 'username_taken', or 'requested' whatever became of the address.
create function public.auth_request_registration(p_username text, p_email text, p_display_name text,
                                                 p_password_hash text)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  key text := lower(btrim(p_username));
  address text := btrim(p_email);
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
  if exists (select 1 from private.credentials c where c.username = key)
     or exists (select 1 from private.retired_usernames r where r.username = key) then
    return 'username_taken';
  end if;
  perform private.account_links_forget_old();
  if private.account_links_over_limit(address, null) then
    return 'requested';
  end if;
  select * into holder from private.credentials c where lower(c.email) = lower(address);
  if holder.user_id is not null then
    insert into private.account_links (kind, email, user_id) values ('already_registered', holder.email, holder.user_id);
  else
    insert into private.account_links (kind, email, username, display_name, password_hash)
    values ('registration', address, key, btrim(p_display_name), p_password_hash);
  end if;
  return 'requested';
end;
$$;
revoke all on function public.auth_request_registration(text, text, text, text)
  from public, anon, authenticated, portal_member;
grant execute on function public.auth_request_registration(text, text, text, text) to service_role;

-- Forgotten password, by username or address: nothing is returned, whoever asks.
create function public.auth_request_password_reset(p_identifier text)
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
     or private.account_links_over_limit(holder.email, typed) then
    return;
  end if;
  insert into private.account_links (kind, email, user_id, asked_as) values ('reset', holder.email, holder.user_id, typed);
end;
$$;
revoke all on function public.auth_request_password_reset(text) from public, anon, authenticated, portal_member;
grant execute on function public.auth_request_password_reset(text) to service_role;

-- The Account page: is my address verified? And a verification link for it.
create function public.my_email_verification()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object('email', c.email, 'verified', c.email_verified_at is not null,
                            'verified_at', c.email_verified_at)
  from private.credentials c where c.user_id = auth.uid()
$$;
revoke all on function public.my_email_verification() from public, anon, authenticated;
grant execute on function public.my_email_verification() to portal_member;

create function public.request_my_email_verification()
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
  if private.account_links_over_limit(mine.email, null) then
    raise exception 'Three messages went to this address within the hour. Try again later.'
      using errcode = 'P0001', detail = 'rate_limited';
  end if;
  insert into private.account_links (kind, email, user_id) values ('verify_email', mine.email, mine.user_id);
  return public.my_email_verification() || jsonb_build_object('queued', true);
end;
$$;
revoke all on function public.request_my_email_verification() from public, anon, authenticated;
grant execute on function public.request_my_email_verification() to portal_member;

-- The sender's calls: claim (lease, SKIP LOCKED), arm (the token's hash, minted at send time), settle.
create function public.account_links_claim(p_limit integer default 20, p_lease_seconds integer default 120)
returns table (id bigint, kind text, email text, recipient_name text, username text, email_verified boolean,
               attempts integer)
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select l.id from private.account_links l
    where (l.status = 'queued' and l.next_attempt_at <= now())
       or (l.status = 'sending' and l.lease_until < now())
    order by l.next_attempt_at, l.id
    limit least(greatest(coalesce(p_limit, 20), 1), 500)
    for update skip locked
  ),
  claimed as (
    update private.account_links l
    set status = 'sending', attempts = l.attempts + 1,
        lease_until = now() + make_interval(secs => least(greatest(coalesce(p_lease_seconds, 120), 10), 3600))
    from due where l.id = due.id
    returning l.*
  )
  select c.id, c.kind, c.email, coalesce(p.display_name, c.display_name), coalesce(cr.username, c.username),
         cr.email_verified_at is not null, c.attempts
  from claimed c
  left join public.profiles p on p.id = c.user_id
  left join private.credentials cr on cr.user_id = c.user_id
  order by c.id
$$;
revoke all on function public.account_links_claim(integer, integer) from public, anon, authenticated, portal_member;
grant execute on function public.account_links_claim(integer, integer) to service_role;

create function public.account_link_arm(p_id bigint, p_token_hash text)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  lasts interval;
  armed timestamptz;
begin
  if p_token_hash !~ '^[0-9a-f]{64}$' then
    raise exception 'A token hash is 64 hexadecimal digits (sha256).' using detail = 'token_hash';
  end if;
  update private.account_links l
  set token_hash = p_token_hash,
      expires_at = now() + case when l.kind = 'reset' then interval '45 minutes' else interval '24 hours' end
  where l.id = p_id and l.status = 'sending' and l.kind <> 'already_registered'
  returning l.expires_at into armed;
  return armed;  -- null: not this sender's row any more, or a message without a link
end;
$$;
revoke all on function public.account_link_arm(bigint, text) from public, anon, authenticated, portal_member;
grant execute on function public.account_link_arm(bigint, text) to service_role;

create function public.account_links_settle(p_id bigint, p_outcome text, p_detail text default null)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  claimed private.account_links;
begin
  if p_outcome not in ('sent', 'held', 'retry') then
    raise exception 'An outcome is sent, held or retry.' using detail = 'outcome';
  end if;
  select * into claimed from private.account_links l where l.id = p_id for update;
  if claimed.id is null or claimed.status <> 'sending' then
    return;
  end if;
  update private.account_links l set
    status = case when p_outcome = 'retry' and claimed.attempts >= 8 then 'failed'
                  when p_outcome = 'retry' then 'queued' else p_outcome end,
    next_attempt_at = case when p_outcome = 'retry'
                           then now() + least(interval '1 hour', interval '1 minute' * power(2, claimed.attempts - 1))
                           else claimed.next_attempt_at end,
    lease_until = null,
    last_error = case when p_outcome = 'sent' then null else left(p_detail, 500) end,
    settled_at = case when p_outcome in ('sent', 'held') or (p_outcome = 'retry' and claimed.attempts >= 8)
                      then now() end
  where l.id = p_id;
end;
$$;
revoke all on function public.account_links_settle(bigint, text, text) from public, anon, authenticated, portal_member;
grant execute on function public.account_links_settle(bigint, text, text) to service_role;

-- What a link is, before anything is done with it: the reset page shows its form only for a live one.
-- state: valid, expired, spent or unknown (a token nobody issued, or one whose account is gone).
create function public.auth_link_state(p_token_hash text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select jsonb_build_object(
       'kind', l.kind,
       'state', case when l.used_at is not null then 'spent' when l.expires_at <= now() then 'expired'
                     else 'valid' end,
       'username', coalesce(c.username, l.username))
     from private.account_links l
     left join private.credentials c on c.user_id = l.user_id
     where l.token_hash = p_token_hash and l.expires_at is not null),
    jsonb_build_object('kind', null, 'state', 'unknown', 'username', null))
$$;
revoke all on function public.auth_link_state(text) from public, anon, authenticated, portal_member;
grant execute on function public.auth_link_state(text) to service_role;

-- Opening a verification link: a registration becomes the account, or an account's address is verified.
-- outcome: created, verified, expired, spent, unknown, username_taken (someone else took the name
-- meanwhile: register again), email_taken (the address got an account meanwhile: sign in).
create function public.auth_redeem_verification(p_token_hash text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  link private.account_links;
  new_id uuid;
begin
  select * into link from private.account_links l
  where l.token_hash = p_token_hash and l.kind in ('registration', 'verify_email') for update;
  if link.id is null then
    return jsonb_build_object('outcome', 'unknown', 'username', null);
  end if;
  if link.used_at is not null then
    return jsonb_build_object('outcome', 'spent', 'username', null);
  end if;
  if link.expires_at <= now() then
    return jsonb_build_object('outcome', 'expired', 'username', null);
  end if;
  if link.kind = 'verify_email' then
    update private.credentials c set email_verified_at = coalesce(c.email_verified_at, now())
    where c.user_id = link.user_id and lower(c.email) = lower(link.email);
    if not found then
      return jsonb_build_object('outcome', 'unknown', 'username', null);
    end if;
    update private.account_links l set used_at = now()
    where l.user_id = link.user_id and l.kind = 'verify_email' and l.used_at is null;
    return jsonb_build_object('outcome', 'verified',
                              'username', (select c.username from private.credentials c where c.user_id = link.user_id));
  end if;
  if exists (select 1 from private.credentials c where lower(c.email) = lower(link.email)) then
    update private.account_links l set used_at = now() where l.id = link.id;
    return jsonb_build_object('outcome', 'email_taken', 'username', null);
  end if;
  if exists (select 1 from private.credentials c where c.username = link.username)
     or exists (select 1 from private.retired_usernames r where r.username = link.username) then
    return jsonb_build_object('outcome', 'username_taken', 'username', link.username);
  end if;
  insert into public.profiles (display_name) values (link.display_name) returning id into new_id;
  insert into private.credentials (user_id, username, email, password_hash, email_verified_at)
  values (new_id, link.username, link.email, link.password_hash, now());
  -- This link is spent; every other registration for the address is too (the address has its account).
  update private.account_links l set used_at = now()
  where l.kind = 'registration' and lower(l.email) = lower(link.email) and l.used_at is null;
  return jsonb_build_object('outcome', 'created', 'username', link.username);
end;
$$;
revoke all on function public.auth_redeem_verification(text) from public, anon, authenticated, portal_member;
grant execute on function public.auth_redeem_verification(text) to service_role;

-- Opening a reset link with a new password: the password changes, the lock lifts, every session of the
-- account ends, and every reset link of the account is spent. outcome: changed, expired, spent, unknown.
create function public.auth_reset_password_by_link(p_token_hash text, p_password_hash text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  link private.account_links;
  account private.credentials;
begin
  if p_password_hash not like '$2%' then
    raise exception 'A password hash is a bcrypt hash.' using detail = 'password_hash';
  end if;
  select * into link from private.account_links l where l.token_hash = p_token_hash and l.kind = 'reset' for update;
  if link.id is null then
    return jsonb_build_object('outcome', 'unknown', 'username', null);
  end if;
  if link.used_at is not null then
    return jsonb_build_object('outcome', 'spent', 'username', null);
  end if;
  if link.expires_at <= now() then
    return jsonb_build_object('outcome', 'expired', 'username', null);
  end if;
  update private.credentials c set password_hash = p_password_hash, failed_attempts = 0, locked_until = null
  where c.user_id = link.user_id
  returning * into account;
  if account.user_id is null then
    return jsonb_build_object('outcome', 'unknown', 'username', null);
  end if;
  delete from private.sign_in_sessions s where s.user_id = account.user_id;
  update private.account_links l set used_at = now()
  where l.user_id = account.user_id and l.kind = 'reset' and l.used_at is null;
  return jsonb_build_object('outcome', 'changed', 'username', account.username);
end;
$$;
revoke all on function public.auth_reset_password_by_link(text, text) from public, anon, authenticated, portal_member;
grant execute on function public.auth_reset_password_by_link(text, text) to service_role;
